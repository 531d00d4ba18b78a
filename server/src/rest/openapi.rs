//! The OpenAPI 3 description of REST API v1, served at `/api/openapi.json`.
//! A test checks that every route of the API router appears here.

use axum::Json;
use serde_json::{json, Value};

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema_ref(schema) } } })
}

/// The errors an operation can answer. Every operation may meet 400 (a malformed path or
/// query) and 401 (a credential that is present but wrong); the others depend on what it does.
fn errors(body: bool) -> Value {
    let e = |d: &str| ok(d, schema_ref("Error"));
    let mut all = json!({
        "400": e("Malformed request: a path or query parameter, or the body"),
        "401": e("Not authenticated, or invalid credentials"),
        "403": e("Refused by the access policy"),
        "404": e("No such resource (or not visible to the caller)"),
        "409": e("Conflicts with the current state"),
        "422": e("Invalid input; `field` names the offending field"),
    });
    if body {
        all["413"] = e("The body is larger than 1 MiB");
        all["415"] = e("The body is not JSON (Content-Type: application/json)");
    }
    all
}

fn op(summary: &str, tag: &str, id_params: &[&str], request: Option<&str>, status: &str, response: Value) -> Value {
    let mut responses = errors(request.is_some());
    responses[status] = response;
    let params: Vec<Value> = id_params
        .iter()
        .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "integer", "format": "int64" } }))
        .collect();
    let mut o = json!({ "summary": summary, "tags": [tag], "responses": responses });
    if !params.is_empty() {
        o["parameters"] = json!(params);
    }
    if let Some(r) = request {
        o["requestBody"] = body(r);
    }
    o
}

/// An operation with optional string query parameters `(name, description)` besides its own.
fn with_query(mut o: Value, params: &[(&str, &str)]) -> Value {
    let mut all = o["parameters"].as_array().cloned().unwrap_or_default();
    all.extend(params.iter().map(|(name, description)| {
        json!({ "name": name, "in": "query", "description": description, "schema": { "type": "string", "maxLength": 100 } })
    }));
    o["parameters"] = json!(all);
    o
}

/// A list: `page` and `per_page` parameters, the total in `X-Total-Count`, links in `Link`.
fn paged(summary: &str, tag: &str, id_params: &[&str], item: &str) -> Value {
    let response = json!({
        "description": "One page of the list, sorted",
        "headers": {
            "X-Total-Count": { "description": "How many there are in all", "schema": { "type": "integer" } },
            "Link": { "description": "RFC 8288 links to the first, previous, next and last pages", "schema": { "type": "string" } },
        },
        "content": { "application/json": { "schema": list_of(item) } },
    });
    let mut o = op(summary, tag, id_params, None, "200", response);
    let mut all = o["parameters"].as_array().cloned().unwrap_or_default();
    all.push(json!({ "name": "page", "in": "query", "description": "1-based page number", "schema": { "type": "integer", "minimum": 1, "maximum": 4294967295u64, "default": 1 } }));
    all.push(json!({ "name": "per_page", "in": "query", "description": "Items a page (at most 100)", "schema": { "type": "integer", "minimum": 1, "maximum": 4294967295u64, "default": 50 } }));
    o["parameters"] = json!(all);
    o
}

/// The health check: no authentication, 503 when the database cannot be reached.
fn health() -> Value {
    let state =
        json!({ "type": "object", "properties": { "status": { "type": "string" }, "database": { "type": "string" } } });
    json!({
        "summary": "Health of the server and its database", "tags": ["health"], "security": [],
        "responses": { "200": ok("Healthy", state.clone()), "503": ok("The database cannot be reached", state) },
    })
}

/// A page of a repository's tags: filters and sort besides the page.
fn tags() -> Value {
    let mut o = op(
        "A page of a repository's tags, filtered and sorted in the database",
        "repositories",
        &["id"],
        None,
        "200",
        ok("A page of tags", schema_ref("TagPage")),
    );
    let mut params = o["parameters"].as_array().cloned().unwrap_or_default();
    params.extend([
        json!({ "name": "name", "in": "query", "description": "Part of the tag name", "schema": { "type": "string", "maxLength": 100 } }),
        json!({ "name": "label", "in": "query", "description": "key=value, or key", "schema": { "type": "string", "maxLength": 100 } }),
        json!({ "name": "sort", "in": "query", "description": "pushed (newest first, the default) or name", "schema": { "type": "string", "enum": ["pushed", "name"] } }),
        json!({ "name": "page", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 4294967295u64 } }),
        json!({ "name": "per_page", "in": "query", "description": "At most 200", "schema": { "type": "integer", "minimum": 1, "maximum": 4294967295u64 } }),
    ]);
    o["parameters"] = json!(params);
    o
}

fn list_of(name: &str) -> Value {
    json!({ "type": "array", "items": schema_ref(name) })
}

fn no_content() -> Value {
    json!({ "description": "Done" })
}

pub fn spec() -> Value {
    let mut doc = core_spec();
    for more in [webhook_paths(), cleanup_paths(), tag_rule_paths()] {
        if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    doc
}

/// The webhooks' endpoints (apart: one `json!` with every path exceeds the macro's limit).
fn webhook_paths() -> Value {
    let hook = || ok("The webhook", schema_ref("Webhook"));
    let created = || ok("The webhook and its secret (shown this once)", schema_ref("CreatedWebhook"));
    let delivery = || ok("The delivery, queued", schema_ref("WebhookDelivery"));
    let list = || ok("The webhooks", json!({ "type": "array", "items": schema_ref("Webhook") }));
    json!({
        "/api/v1/namespaces/{id}/webhooks": {
            "get": op("List a namespace's webhooks (owners of its team)", "webhooks", &["id"], None, "200", list()),
            "post": op("Create a webhook for a namespace's images (owners); its secret is in the answer and nowhere else", "webhooks", &["id"], Some("NewWebhook"), "201", created())
        },
        "/api/v1/webhooks": {
            "get": op("List the site-wide webhooks (administrators)", "webhooks", &[], None, "200", list()),
            "post": op("Create a site-wide webhook (administrators)", "webhooks", &[], Some("NewWebhook"), "201", created())
        },
        "/api/v1/webhooks/{id}": {
            "get": op("Show a webhook", "webhooks", &["id"], None, "200", hook()),
            "put": op("Turn a webhook on or off, or edit it (name, url, events, format; a new secret or headers)", "webhooks", &["id"], Some("WebhookChange"), "200", hook()),
            "delete": op("Delete a webhook and its deliveries", "webhooks", &["id"], None, "204", no_content())
        },
        "/api/v1/webhooks/{id}/deliveries": {
            "get": op("A webhook's newest deliveries, with the receiver's answers", "webhooks", &["id"], None, "200", ok("The deliveries", json!({ "type": "array", "items": schema_ref("WebhookDelivery") })))
        },
        "/api/v1/webhooks/{id}/test": {
            "post": op("Send a test event", "webhooks", &["id"], None, "202", delivery())
        },
        "/api/v1/webhooks/deliveries/{id}/redeliver": {
            "post": op("Send a delivery's event again", "webhooks", &["id"], None, "202", delivery())
        }
    })
}

/// The tag rules' endpoints (the manifest gate's immutable tags).
fn tag_rule_paths() -> Value {
    json!({
        "/api/v1/namespaces/{id}/tag_rules": {
            "get": op("List a namespace's tag rules (whoever sees the namespace)", "tag rules", &["id"], None, "200", ok("The rules", list_of("TagRule"))),
            "post": op("Add a tag rule (owners of the namespace's team): immutable (a tag it covers never moves and is never deleted once it exists) or protected (only the given least roles push and delete a tag it covers)", "tag rules", &["id"], Some("NewTagRule"), "201", ok("The rule", schema_ref("TagRule")))
        },
        "/api/v1/namespaces/{id}/tag_rules/{rule_id}": {
            "delete": op("Remove a tag rule (owners)", "tag rules", &["id", "rule_id"], None, "204", no_content())
        },
        "/api/v1/namespaces/{id}/quota": {
            "get": op("A namespace's storage: the bytes of the distinct blobs its images refer to, and its limit (whoever sees the namespace)", "quotas", &["id"], None, "200", ok("The quota", schema_ref("Quota"))),
            "put": op("Set a namespace's storage quota (administrators); null: the site's default. The gate refuses a push that would go over it", "quotas", &["id"], Some("QuotaChange"), "200", ok("The quota", schema_ref("Quota")))
        },
        "/api/v1/default_quota": {
            "get": op("The storage quota of a namespace without one of its own, and who set it (anyone signed in)", "quotas", &[], None, "200", ok("The default", schema_ref("DefaultQuota"))),
            "put": op("Set the site's default storage quota (administrators): bytes, 0 for none, null for the configuration's default_quota_bytes", "quotas", &[], Some("QuotaChange"), "200", ok("The default", schema_ref("DefaultQuota")))
        },
        "/api/v1/namespaces/{id}/signature_policy": {
            "get": op("A namespace's signature policy: whether pulls need a cosign signature that verifies against one of its trusted keys, and those keys (whoever sees the namespace)", "signature policy", &["id"], None, "200", ok("The policy", schema_ref("SignaturePolicy"))),
            "put": op("Require signed images on every pull from a namespace, or stop (owners); requiring needs a trusted key", "signature policy", &["id"], Some("SignatureRequirement"), "200", ok("The policy", schema_ref("SignaturePolicy")))
        },
        "/api/v1/namespaces/{id}/trusted_keys": {
            "post": op("Trust a public key (PEM, ECDSA P-256: cosign.pub) to sign a namespace's images (owners)", "signature policy", &["id"], Some("NewTrustedKey"), "201", ok("The key", schema_ref("TrustedKey")))
        },
        "/api/v1/namespaces/{id}/trusted_keys/{key_id}": {
            "delete": op("Stop trusting a key (owners); the last key stays while signatures are required", "signature policy", &["id", "key_id"], None, "204", no_content())
        },
        "/api/v1/read_only": {
            "get": op("Whether the registry is read-only (anyone signed in)", "read-only mode", &[], None, "200", ok("The mode", schema_ref("ReadOnlyMode"))),
            "put": op("Switch read-only mode (administrators): pulls go on, every push and delete is refused at the token endpoint and the gate, and cleanup waits; the window for the registry's garbage collection", "read-only mode", &[], Some("ReadOnlyChange"), "200", ok("The mode", schema_ref("ReadOnlyMode")))
        }
    })
}

/// The cleanup policies' endpoints, for a namespace and for a repository.
fn cleanup_paths() -> Value {
    let mut paths = serde_json::Map::new();
    for (base, what) in
        [("/api/v1/namespaces/{id}/cleanup", "a namespace"), ("/api/v1/repositories/{id}/cleanup", "a repository")]
    {
        let policy = || ok("The policy", schema_ref("CleanupPolicy"));
        let report = |d: &str| ok(d, schema_ref("CleanupReport"));
        paths.insert(base.to_string(), json!({
            "get": op(&format!("Show {what}'s cleanup policy (owners); 404 when none is set"), "cleanup", &["id"], None, "200", policy()),
            "put": op(&format!("Set {what}'s cleanup policy (owners); a repository's wins over its namespace's"), "cleanup", &["id"], Some("CleanupRules"), "200", policy()),
            "delete": op(&format!("Remove {what}'s cleanup policy"), "cleanup", &["id"], None, "204", no_content())
        }));
        paths.insert(format!("{base}/preview"), json!({
            "post": op("A dry run: what the policy would delete, keep and skip, and why", "cleanup", &["id"], None, "200", report("The decisions"))
        }));
        paths.insert(format!("{base}/run"), json!({
            "post": op("Run the policy now: delete from the registry what it does not keep", "cleanup", &["id"], None, "200", report("What was done"))
        }));
    }
    Value::Object(paths)
}

fn core_spec() -> Value {
    let user = || ok("The user", schema_ref("User"));
    let team = || ok("The team", schema_ref("Team"));
    let ns = || ok("The namespace", schema_ref("Namespace"));
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Portcullis REST API",
            "version": "1",
            "description": "Users, teams, namespaces and access tokens. Authenticate with `Authorization: Bearer <access token>`, Basic `<username>:<access token>`, or the browser session."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }, { "basic": [] }, {}],
        "paths": {
            "/api/v1/health": { "get": health() },
            "/api/v1/users/bootstrap": { "post": op("Create the first administrator and a token for them (only while no user exists)", "users", &[], Some("NewUser"), "201", ok("The administrator and a token, shown once", schema_ref("Bootstrapped"))) },
            "/api/v1/users": {
                "get": with_query(paged("List users by name (administrators)", "users", &[], "User"), &[("q", "Part of the name, display name or email")]),
                "post": op("Create a user or bot user (administrators)", "users", &[], Some("NewUser"), "201", user())
            },
            "/api/v1/users/{id}": {
                "get": op("Show a user (themself or administrators)", "users", &["id"], None, "200", user()),
                "put": op("Change a user: profile (themself), admin and enabled flags (administrators)", "users", &["id"], Some("UserChange"), "200", user()),
                "patch": op("Same as PUT", "users", &["id"], Some("UserChange"), "200", user()),
                "delete": op("Delete a user and their personal namespace (administrators)", "users", &["id"], None, "204", no_content())
            },
            "/api/v1/group_mappings": {
                "get": paged("List the directory group mappings (administrators)", "users", &[], "GroupMapping"),
                "post": op("Map a directory group to a team with a role, or to the administrators (administrators)", "users", &[], Some("NewGroupMapping"), "201", ok("The mapping", schema_ref("GroupMapping")))
            },
            "/api/v1/group_mappings/{id}": {
                "patch": op("Say where a mapping's group comes from, and how a directory group is named (administrators)", "users", &["id"], Some("GroupMappingSource"), "200", ok("The mapping", schema_ref("GroupMapping"))),
                "delete": op("Remove a group mapping; its members leave the team at their next sign-in (administrators)", "users", &["id"], None, "204", no_content())
            },
            "/api/v1/users/{id}/password": {
                "put": op("Set a user's password; their sessions and docker logins end (administrators)", "users", &["id"], Some("NewPassword"), "204", no_content())
            },
            "/api/v1/users/{id}/password_reset": {
                "post": op("Email a user a password reset link, valid once for an hour (administrators; needs smtp_host)", "users", &["id"], None, "200", ok("Where the link went", schema_ref("ResetSent")))
            },
            "/api/v1/users/{id}/application_tokens": {
                "get": paged("List a user's access tokens, active first (themself or administrators)", "tokens", &["id"], "AccessToken"),
                "post": op("Create an access token; the secret is in the answer and nowhere else", "tokens", &["id"], Some("NewToken"), "201", ok("The token and its secret", schema_ref("CreatedToken")))
            },
            "/api/v1/users/application_tokens/{id}": {
                "delete": op("Revoke an access token", "tokens", &["id"], None, "200", ok("The revoked token", schema_ref("AccessToken")))
            },
            "/api/v1/teams": {
                "get": paged("List the teams the caller may see, by name", "teams", &[], "Team"),
                "post": op("Create a team owned by the caller", "teams", &[], Some("NewTeam"), "201", team())
            },
            "/api/v1/teams/{id}": {
                "get": op("Show a team", "teams", &["id"], None, "200", team()),
                "put": op("Change a team's description (owners)", "teams", &["id"], Some("TeamChange"), "200", team()),
                "patch": op("Same as PUT", "teams", &["id"], Some("TeamChange"), "200", team()),
                "delete": op("Delete a team that owns no namespaces (owners)", "teams", &["id"], None, "204", no_content())
            },
            "/api/v1/teams/{id}/members": {
                "get": paged("List a team's members, owners first", "teams", &["id"], "TeamMember"),
                "post": op("Add a member (owners)", "teams", &["id"], Some("NewMember"), "201", ok("The member", schema_ref("TeamMember")))
            },
            "/api/v1/teams/{id}/members/{user_id}": {
                "put": op("Change a member's role (owners)", "teams", &["id", "user_id"], Some("RoleChange"), "204", no_content()),
                "delete": op("Remove a member (owners)", "teams", &["id", "user_id"], None, "204", no_content())
            },
            "/api/v1/teams/{id}/namespaces": {
                "get": paged("List a team's namespaces, by name", "teams", &["id"], "Namespace")
            },
            "/api/v1/namespaces": {
                "get": with_query(paged("List the namespaces the caller may pull from, by name", "namespaces", &[], "Namespace"), &[("q", "Part of the name or description")]),
                "post": op("Create a namespace for a team", "namespaces", &[], Some("NewNamespace"), "201", ns())
            },
            "/api/v1/namespaces/{id}/repositories": {
                "get": paged("List a namespace's repositories, by name", "repositories", &["id"], "Repository")
            },
            "/api/v1/repositories": {
                "get": paged("List the repositories the caller may pull from, by name", "repositories", &[], "Repository")
            },
            "/api/v1/repositories/{id}": {
                "get": op("Show a repository", "repositories", &["id"], None, "200", ok("The repository", schema_ref("Repository"))),
                "put": op("Change a repository's description", "repositories", &["id"], Some("RepositoryChange"), "200", ok("The repository", schema_ref("Repository"))),
                "patch": op("Same as PUT", "repositories", &["id"], Some("RepositoryChange"), "200", ok("The repository", schema_ref("Repository"))),
                "delete": op("Delete every manifest of a repository from the registry", "repositories", &["id"], None, "204", no_content())
            },
            "/api/v1/repositories/{id}/tags": { "get": tags() },
            "/api/v1/repositories/{id}/history": {
                "get": op("The latest moves of the repository's tags (pushes, moves, deletes, restores), newest first", "repositories", &["id"], None, "200", ok("The moves", json!({"type": "array", "items": schema_ref("TagMove")})))
            },
            "/api/v1/repositories/{id}/restore": {
                "post": op("Put an earlier image (still in the registry) back under a tag; 409 when it is gone or already there", "repositories", &["id"], Some("Restore"), "200", ok("What the tag pointed at before", json!({"type": "object", "properties": {"previous": {"type": "string", "nullable": true}}})))
            },
            "/api/v1/tags/{id}": {
                "get": op("Show a tag with its image's details", "repositories", &["id"], None, "200", ok("The tag", schema_ref("TagDetail"))),
                "delete": with_query(
                    op("Delete a tag's manifest from the registry (every tag sharing its digest goes too); 409 when the tag points at another digest than `digest` or than the registry serves", "repositories", &["id"], None, "200", ok("The deleted tags", json!({"type": "object", "properties": {"deleted_tags": {"type": "array", "items": {"type": "string"}}}}))),
                    &[("digest", "The digest the caller confirmed")])
            },
            "/api/v1/namespaces/{id}": {
                "get": op("Show a namespace with what the caller may do in it", "namespaces", &["id"], None, "200", ns()),
                "put": op("Change a namespace's description or visibility", "namespaces", &["id"], Some("NamespaceChange"), "200", ns()),
                "patch": op("Same as PUT", "namespaces", &["id"], Some("NamespaceChange"), "200", ns()),
                "delete": op("Delete a namespace (owners of its team)", "namespaces", &["id"], None, "204", no_content())
            }
        },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "An access token (pcat_…)" },
                "basic": { "type": "http", "scheme": "basic", "description": "Username and access token" }
            },
            "schemas": schemas()
        }
    })
}

/// Request bodies are read strictly: a field the API does not know is a 422, not ignored
/// (a misspelt `visibilty` must not silently do nothing), and the schemas say so.
const REQUEST_SCHEMAS: [&str; 22] = [
    "NewGroupMapping",
    "GroupMappingSource",
    "NewUser",
    "NewPassword",
    "UserChange",
    "NewToken",
    "NewTeam",
    "TeamChange",
    "NewMember",
    "RoleChange",
    "NewNamespace",
    "NamespaceChange",
    "RepositoryChange",
    "Restore",
    "NewWebhook",
    "WebhookChange",
    "CleanupRules",
    "NewTagRule",
    "ReadOnlyChange",
    "QuotaChange",
    "SignatureRequirement",
    "NewTrustedKey",
];

/// Fields of request bodies that may be `null`, meaning "not given" (left as it is, or the
/// default).
const NULLABLE_FIELDS: [(&str, &str); 27] = [
    ("NewGroupMapping", "team"),
    ("NewGroupMapping", "source"),
    ("NewGroupMapping", "match_by"),
    ("GroupMappingSource", "match_by"),
    ("NewGroupMapping", "role"),
    ("NewGroupMapping", "admin"),
    ("CleanupRules", "delete_untagged"),
    ("CleanupRules", "keep_last"),
    ("CleanupRules", "keep_days"),
    ("CleanupRules", "include_pattern"),
    ("CleanupRules", "keep_pattern"),
    ("CleanupRules", "schedule"),
    ("CleanupRules", "enabled"),
    ("NewWebhook", "format"),
    ("NewWebhook", "secret"),
    ("NewUser", "password"),
    ("NewUser", "email"),
    ("NewUser", "display_name"),
    ("UserChange", "display_name"),
    ("UserChange", "email"),
    ("UserChange", "admin"),
    ("UserChange", "enabled"),
    ("NewToken", "expires_at"),
    ("NamespaceChange", "description"),
    ("NamespaceChange", "visibility"),
    ("ReadOnlyChange", "message"),
    ("QuotaChange", "limit_bytes"),
];

fn schemas() -> Value {
    let mut all = response_and_request_schemas();
    for more in [lifecycle_schemas(), password_schemas(), tag_rule_schemas()] {
        if let (Some(all), Value::Object(more)) = (all.as_object_mut(), more) {
            all.extend(more);
        }
    }
    for name in REQUEST_SCHEMAS {
        all[name]["additionalProperties"] = json!(false);
    }
    for (schema, field) in NULLABLE_FIELDS {
        let f = &mut all[schema]["properties"][field];
        f["nullable"] = json!(true);
        // OpenAPI 3.0: a nullable enum lists null among its values.
        if let Some(values) = f.get_mut("enum").and_then(Value::as_array_mut) {
            values.push(Value::Null);
        }
    }
    for field in ["team_id", "team"] {
        all["NewNamespace"]["properties"][field]["nullable"] = json!(true);
    }
    all
}

/// The tag rules' schemas.
fn tag_rule_schemas() -> Value {
    let glob = |d: &str| json!({ "type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9._*?/-]+$", "description": d });
    json!({
        "NewTagRule": { "type": "object", "required": ["tags"], "properties": {
            "repositories": { "type": "string", "nullable": true, "maxLength": 128, "description": "A glob on the repository's path after the namespace (app, tools/*); empty or * for all" },
            "tags": glob("A glob on tag names: * for any run of characters, ? for one (v*, release-*, prod)"),
            "kind": { "type": "string", "nullable": true, "enum": ["immutable", "protected", null], "description": "immutable (the default): never moves, never deleted; protected: only the least roles below push and delete" },
            "push_role": { "type": "string", "nullable": true, "enum": ["contributor", "owner", "admin", null], "description": "A protected rule's least role that may push (create or move) a tag; owner by default" },
            "delete_role": { "type": "string", "nullable": true, "enum": ["contributor", "owner", "admin", null], "description": "A protected rule's least role that may delete a tag; owner by default" } } },
        "TagRule": { "type": "object", "properties": {
            "id": { "type": "integer", "format": "int64" }, "namespace": { "type": "string" },
            "repositories": { "type": "string" }, "tags": { "type": "string" },
            "kind": { "type": "string", "enum": ["immutable", "protected"] },
            "push_role": { "type": "string", "nullable": true }, "delete_role": { "type": "string", "nullable": true },
            "created_by": { "type": "string" },
            "created_at": { "type": "string", "format": "date-time" } } },
        "ReadOnlyChange": { "type": "object", "required": ["enabled"], "properties": {
            "enabled": { "type": "boolean", "description": "On: pulls go on, pushes and deletes are refused" },
            "message": { "type": "string", "maxLength": 500, "description": "What the banner says and refused clients are told" } } },
        "QuotaChange": { "type": "object", "required": ["limit_bytes"], "properties": {
            "limit_bytes": { "type": "integer", "format": "int64", "minimum": 0, "description": "At most this many bytes; null for the site's default" } } },
        "Quota": { "type": "object", "properties": {
            "namespace": { "type": "string" },
            "used_bytes": { "type": "integer", "format": "int64", "description": "The bytes of the distinct blobs (layers and configs) its images refer to" },
            "limit_bytes": { "type": "integer", "format": "int64", "nullable": true },
            "limit_source": { "type": "string", "enum": ["namespace", "site", "none"] } } },
        "ReadOnlyMode": { "type": "object", "properties": {
            "enabled": { "type": "boolean" }, "message": { "type": "string" } } },
        "DefaultQuota": { "type": "object", "properties": {
            "limit_bytes": { "type": "integer", "format": "int64", "nullable": true, "description": "At most this many bytes; null: no default quota" },
            "from": { "type": "string", "enum": ["administrators", "configuration"] } } },
        "SignatureRequirement": { "type": "object", "required": ["required"], "properties": {
            "required": { "type": "boolean", "description": "On: a pull of an image without a signature that verifies against a trusted key is refused" } } },
        "NewTrustedKey": { "type": "object", "required": ["name", "public_key"], "properties": {
            "name": { "type": "string", "minLength": 1, "maxLength": 64, "description": "What the key is called (ci, release-team)" },
            "public_key": { "type": "string", "maxLength": 8192, "description": "PEM, -----BEGIN PUBLIC KEY-----: an ECDSA P-256 key, as cosign generate-key-pair writes cosign.pub" } } },
        "TrustedKey": { "type": "object", "properties": {
            "id": { "type": "integer", "format": "int64" }, "name": { "type": "string" },
            "fingerprint": { "type": "string", "description": "SHA-256 of the key's DER, hex" },
            "added_by": { "type": "string" }, "added_at": { "type": "string", "format": "date-time" } } },
        "SignaturePolicy": { "type": "object", "properties": {
            "namespace": { "type": "string" }, "required": { "type": "boolean" },
            "keys": { "type": "array", "items": schema_ref("TrustedKey") },
            "grace_seconds": { "type": "integer", "format": "int64", "description": "How long the pusher of an image may pull it unsigned, so that CI can sign it" } } }
    })
}

/// Webhooks' and cleanup policies' schemas (apart: one `json!` with all of them exceeds the
/// macro's limit).
fn lifecycle_schemas() -> Value {
    let s = |t: &str| json!({ "type": t });
    let time = || json!({ "type": "string", "format": "date-time" });
    let opt_time = || json!({ "type": "string", "format": "date-time", "nullable": true });
    let id = || json!({ "type": "integer", "format": "int64" });
    json!({
        "NewWebhook": { "type": "object", "required": ["name", "url", "events"], "properties": {
            "name": s("string"), "url": { "type": "string", "description": "http(s); not an internal address unless allowed" },
            "events": { "type": "array", "items": { "type": "string", "enum": ["push", "delete", "pull", "cleanup", "quota"] } },
            "format": { "type": "string", "enum": ["portcullis", "cloudevents"] },
            "headers": { "type": "object", "additionalProperties": s("string") },
            "secret": { "type": "string", "description": "16 to 256 characters; made when absent" } } },
        "WebhookChange": { "type": "object", "minProperties": 1, "description": "What changes; the rest stays (the secret and headers only when given)", "properties": {
            "enabled": s("boolean"), "name": s("string"),
            "url": { "type": "string", "description": "http(s); not an internal address unless allowed" },
            "events": { "type": "array", "items": { "type": "string", "enum": ["push", "delete", "pull", "cleanup", "quota"] } },
            "format": { "type": "string", "enum": ["portcullis", "cloudevents"] },
            "headers": { "type": "object", "additionalProperties": s("string") },
            "secret": { "type": "string", "description": "16 to 256 characters" } } },
        "Webhook": { "type": "object", "properties": {
            "id": id(), "namespace": { "type": "string", "nullable": true }, "name": s("string"), "url": s("string"),
            "events": { "type": "array", "items": s("string") }, "format": s("string"),
            "header_names": { "type": "array", "items": s("string") }, "enabled": s("boolean"), "created_at": time(),
            "last_delivery": { "allOf": [schema_ref("WebhookDelivery")], "nullable": true } } },
        "WebhookDelivery": { "type": "object", "properties": {
            "id": id(), "webhook_id": id(), "event": s("string"),
            "state": { "type": "string", "enum": ["pending", "delivered", "failed"] }, "attempts": s("integer"),
            "last_status": { "type": "integer", "nullable": true }, "last_error": { "type": "string", "nullable": true },
            "response_ms": { "type": "integer", "nullable": true }, "response_body": { "type": "string", "nullable": true },
            "created_at": time(), "next_attempt_at": time(), "delivered_at": opt_time(),
            "payload": { "type": "object", "description": "The event as sent (the body, before signing)" } } },
        "CreatedWebhook": { "type": "object", "properties": { "webhook": schema_ref("Webhook"), "secret": s("string") } },
        "CleanupRules": { "type": "object", "properties": {
            "keep_last": { "type": "integer", "minimum": 0, "maximum": 10000, "description": "Keep the N most recently pushed" },
            "keep_days": { "type": "integer", "minimum": 0, "maximum": 3650, "description": "Keep what was pushed or pulled within D days" },
            "include_pattern": { "type": "string", "description": "Tags covered (a regular expression; default .*)" },
            "keep_pattern": { "type": "string", "description": "Tags always kept (a regular expression)" },
            "schedule": { "type": "string", "description": "A cron schedule in UTC (\"0 3 * * 0\", \"@daily\"); empty: on demand only" },
            "delete_untagged": { "type": "boolean", "description": "Delete images no tag points at any more" },
            "enabled": s("boolean") } },
        "CleanupPolicy": { "type": "object", "properties": {
            "id": id(), "namespace": s("string"), "repository": { "type": "string", "nullable": true },
            "keep_last": { "type": "integer", "nullable": true }, "keep_days": { "type": "integer", "nullable": true },
            "include_pattern": s("string"), "keep_pattern": s("string"), "schedule": s("string"),
            "delete_untagged": s("boolean"),
            "enabled": s("boolean"), "last_run_at": opt_time(),
            "last_run": { "type": "object", "nullable": true, "description": "The newest run that deleted", "properties": {
                "trigger": s("string"), "at": time(), "deleted": s("integer"), "kept": s("integer"),
                "skipped": s("integer"), "bytes_freed": s("integer"), "error": { "type": "string", "nullable": true } } } } },
        "CleanupReport": { "type": "object", "properties": {
            "dry_run": s("boolean"), "deleted": s("integer"), "kept": s("integer"), "skipped": s("integer"),
            "bytes_freed": s("integer"), "errors": { "type": "array", "items": s("string") },
            "decisions": { "type": "array", "items": { "type": "object", "properties": {
                "repository": s("string"), "tag": s("string"), "digest": s("string"),
                "action": { "type": "string", "enum": ["delete", "keep", "skip"] }, "reason": s("string") } } } } }
    })
}

/// An administrator's password reset of a user.
fn password_schemas() -> Value {
    json!({
        "NewPassword": { "type": "object", "required": ["password"], "properties": {
            "password": { "type": "string", "minLength": 8, "maxLength": 256 } } },
        "ResetSent": { "type": "object", "properties": { "sent_to": { "type": "string" } } },
        "GroupMapping": { "type": "object", "properties": {
            "id": { "type": "integer", "format": "int64" }, "group_name": { "type": "string" },
            "team": { "type": "string", "nullable": true },
            "role": { "type": "string", "enum": ["viewer", "contributor", "owner", null], "nullable": true },
            "grants_admin": { "type": "boolean" },
            "source": { "type": "string", "nullable": true, "description": "ldap (the directory) or oidc:<provider>; null: unknown, the mapping matches nothing until one is set" },
            "source_label": { "type": "string", "nullable": true },
            "match_by": { "type": "string", "enum": ["dn", "name", "value"] },
            "created_at": { "type": "string", "format": "date-time" } } },
        "NewGroupMapping": { "type": "object", "required": ["group"], "properties": {
            "group": { "type": "string", "description": "The group's full DN, its name (its first RDN's value, with match_by name), or a provider's groups claim value" },
            "team": { "type": "string", "description": "Empty or absent with admin: the group only makes administrators" },
            "role": { "type": "string", "enum": ["viewer", "contributor", "owner"] },
            "admin": { "type": "boolean" },
            "source": { "type": "string", "description": "ldap or oidc:<provider>; may be left out when only one is configured" },
            "match_by": { "type": "string", "enum": ["dn", "name"], "description": "For directory groups: by full DN (the default) or by name anywhere in the directory" } } },
        "GroupMappingSource": { "type": "object", "required": ["source"], "properties": {
            "source": { "type": "string", "description": "ldap or oidc:<provider>" },
            "match_by": { "type": "string", "enum": ["dn", "name"] } } }
    })
}

fn response_and_request_schemas() -> Value {
    let s = |t: &str| json!({ "type": t });
    let time = || json!({ "type": "string", "format": "date-time" });
    let opt_time = || json!({ "type": "string", "format": "date-time", "nullable": true });
    let id = || json!({ "type": "integer", "format": "int64" });
    let role = || json!({ "type": "string", "enum": ["viewer", "contributor", "owner"] });
    let visibility = || json!({ "type": "string", "enum": ["private", "protected", "public"] });
    json!({
        "Error": { "type": "object", "required": ["message"], "properties": { "message": s("string"), "field": s("string") } },
        "User": { "type": "object", "properties": {
            "id": id(), "username": s("string"), "display_name": s("string"), "email": { "type": "string", "nullable": true },
            "is_admin": s("boolean"), "is_enabled": s("boolean"), "is_bot": s("boolean"),
            "source": { "type": "string", "enum": ["local", "ldap", "oidc"], "description": "ldap: made at the first sign-in through the directory; oidc: through an OpenID Connect provider" },
            "created_at": time(), "last_sign_in_at": opt_time() } },
        "NewUser": { "type": "object", "required": ["username"], "properties": {
            "username": s("string"), "password": { "type": "string", "description": "Required for people, absent for bots" },
            "email": s("string"), "display_name": s("string"), "admin": s("boolean"), "bot": s("boolean") } },
        "UserChange": { "type": "object", "properties": {
            "display_name": s("string"), "email": s("string"), "admin": s("boolean"), "enabled": s("boolean") } },
        "Bootstrapped": { "type": "object", "properties": { "user": schema_ref("User"), "token": schema_ref("CreatedToken") } },
        "AccessToken": { "type": "object", "properties": {
            "id": id(), "user_id": id(), "name": s("string"), "prefix": s("string"),
            "namespaces": { "type": "array", "items": s("string") }, "pull_only": s("boolean"),
            "expires_at": opt_time(), "last_used_at": opt_time(), "created_at": time(), "revoked_at": opt_time() } },
        "NewToken": { "type": "object", "required": ["name"], "properties": {
            "name": s("string"), "namespaces": { "type": "array", "items": s("string") },
            "pull_only": s("boolean"), "expires_at": time() } },
        "CreatedToken": { "type": "object", "properties": { "token": schema_ref("AccessToken"), "secret": s("string"), "username": s("string") } },
        "Team": { "type": "object", "properties": {
            "id": id(), "name": s("string"), "description": s("string"), "member_count": s("integer"),
            "namespace_count": s("integer"), "role": { "type": "string", "nullable": true, "enum": ["viewer", "contributor", "owner"] },
            "created_at": time() } },
        "NewTeam": { "type": "object", "required": ["name"], "properties": { "name": s("string"), "description": s("string") } },
        "TeamChange": { "type": "object", "required": ["description"], "properties": { "description": s("string") } },
        "TeamMember": { "type": "object", "properties": {
            "user_id": id(), "username": s("string"), "display_name": s("string"), "is_bot": s("boolean"),
            "role": role(), "since": time(), "synced": s("boolean") } },
        "NewMember": { "type": "object", "required": ["username", "role"], "properties": { "username": s("string"), "role": role() } },
        "RoleChange": { "type": "object", "required": ["role"], "properties": { "role": role() } },
        "Namespace": { "type": "object", "properties": {
            "id": id(), "name": s("string"), "description": s("string"), "visibility": visibility(),
            "team_id": id(), "team_name": s("string"), "is_personal": s("boolean"), "created_at": time(),
            "role": { "type": "string", "nullable": true, "enum": ["viewer", "contributor", "owner"] },
            "abilities": { "type": "object", "properties": {
                "pull": s("boolean"), "push": s("boolean"), "delete": s("boolean"),
                "change_visibility": s("boolean"), "edit": s("boolean"), "delete_namespace": s("boolean"),
                "webhooks": s("boolean"), "cleanup": s("boolean") } } } },
        "NewNamespace": { "type": "object", "required": ["name"], "properties": {
            "name": s("string"), "team_id": id(), "team": s("string"), "visibility": visibility(), "description": s("string") } },
        "NamespaceChange": { "type": "object", "properties": { "description": s("string"), "visibility": visibility() } },
        "Repository": { "type": "object", "properties": {
            "id": id(), "name": s("string"), "namespace": { "type": "string", "nullable": true }, "description": s("string"),
            "tag_count": s("integer"), "last_push_at": opt_time(), "last_pushed_by": { "type": "string", "nullable": true },
            "size": { "type": "integer", "nullable": true }, "created_at": time() } },
        "RepositoryChange": { "type": "object", "required": ["description"], "properties": { "description": s("string") } },
        "Tag": { "type": "object", "properties": {
            "id": id(), "name": s("string"), "digest": s("string"), "media_type": s("string"), "size": s("integer"),
            "platforms": { "type": "array", "items": s("string") }, "created": opt_time(), "pushed_by": s("string"),
            "pushed_at": time(), "last_pulled_at": opt_time(),
            "labels": { "type": "array", "items": { "type": "array", "items": s("string") } },
            "shared_with": { "type": "array", "items": s("string") }, "signed": s("boolean") } },
        "TagPage": { "type": "object", "properties": {
            "items": { "type": "array", "items": schema_ref("Tag") }, "page": s("integer"), "per_page": s("integer"), "total": s("integer") } },
        "TagDetail": { "type": "object", "properties": {
            "repository": s("string"), "tag": schema_ref("Tag"),
            "manifest_json": { "type": "string", "nullable": true, "description": "The manifest, indented" },
            "config": image_config(),
            "annotations": { "type": "array", "items": { "type": "array", "items": s("string") } },
            "layers": { "type": "array", "items": { "type": "array" } }, "config_digest": s("string"),
            "index_entries": { "type": "array", "items": { "type": "array" } },
            "incomplete_reason": { "type": "string", "nullable": true, "description": "Why part of the metadata was not read (over a size limit)" },
            "can_delete": s("boolean"), "can_push": s("boolean"), "registry_host": s("string"),
            "history": { "type": "array", "items": schema_ref("TagMove") },
            "life": { "type": "object", "description": "What applies to the tag, together", "properties": {
                "rules": { "type": "array", "items": schema_ref("TagRule"), "description": "The tag rules that cover it" },
                "cleanup": { "type": "object", "nullable": true, "description": "What its cleanup policy does with it", "properties": {
                    "policy": s("string"), "enabled": s("boolean"), "schedule": s("string"),
                    "action": { "type": "string", "enum": ["keep", "delete", "skip", "unknown"] }, "reason": s("string") } },
                "signature": { "type": "object", "description": "Its cosign signature, checked against the namespace's trusted keys", "properties": {
                    "state": { "type": "string", "enum": ["signed", "invalid", "unverified", "unsigned", "unknown"] },
                    "key": { "type": "string", "nullable": true, "description": "The trusted key that verified it" },
                    "reason": { "type": "string", "nullable": true, "description": "Why it does not verify" } } },
                "attached": { "type": "array", "description": "What refers to its manifest (OCI 1.1 referrers)", "items": { "type": "object", "properties": {
                    "digest": { "type": "string" }, "artifact_type": { "type": "string" },
                    "kind": { "type": "string", "enum": ["signature", "SBOM", "attestation", "artifact"] } } } },
                "quota": { "allOf": [schema_ref("Quota")], "nullable": true } } } } },
        "TagMove": { "type": "object", "properties": {
            "id": { "type": "integer", "format": "int64" }, "tag": s("string"),
            "digest": { "type": "string", "nullable": true, "description": "null: the tag was deleted" },
            "previous_digest": { "type": "string", "nullable": true }, "actor": { "type": "string", "nullable": true },
            "source": { "type": "string", "enum": ["push", "delete", "reconcile", "restore", "cleanup"] },
            "at": { "type": "string", "format": "date-time" } } },
        "Restore": { "type": "object", "required": ["tag", "digest"], "properties": {
            "tag": s("string"), "digest": { "type": "string", "description": "sha256:…" } } }
    })
}

/// What an image runs (a schema of its own: one `json!` this deep exceeds the macro's limit).
fn image_config() -> Value {
    let s = |t: &str| json!({ "type": t });
    let strings = || json!({ "type": "array", "items": s("string") });
    let step = json!({ "type": "object", "properties": {
        "created": s("string"), "created_by": s("string"), "comment": s("string"),
        "empty_layer": s("boolean"), "layer_size": s("integer") } });
    json!({ "type": "object", "nullable": true, "properties": {
        "entrypoint": strings(), "cmd": strings(), "env": strings(), "user": s("string"),
        "working_dir": s("string"), "exposed_ports": strings(), "stop_signal": s("string"),
        "history": { "type": "array", "items": step } } })
}

pub async fn document() -> Json<Value> {
    Json(spec())
}
