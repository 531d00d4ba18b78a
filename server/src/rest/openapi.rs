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

fn errors() -> Value {
    let e = |d: &str| ok(d, schema_ref("Error"));
    json!({
        "400": e("Malformed request"),
        "401": e("Not authenticated, or invalid credentials"),
        "403": e("Refused by the access policy"),
        "404": e("No such resource (or not visible to the caller)"),
        "409": e("Conflicts with the current state"),
        "422": e("Invalid input; `field` names the offending field"),
    })
}

fn op(summary: &str, tag: &str, id_params: &[&str], request: Option<&str>, status: &str, response: Value) -> Value {
    let mut responses = errors();
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
        json!({ "name": name, "in": "query", "description": description, "schema": { "type": "string" } })
    }));
    o["parameters"] = json!(all);
    o
}

fn list_of(name: &str) -> Value {
    json!({ "type": "array", "items": schema_ref(name) })
}

fn no_content() -> Value {
    json!({ "description": "Done" })
}

pub fn spec() -> Value {
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
            "/api/v1/health": { "get": op("Health of the server and its database", "health", &[], None, "200", ok("Healthy", json!({"type": "object"}))) },
            "/api/v1/users/bootstrap": { "post": op("Create the first administrator and a token for them (only while no user exists)", "users", &[], Some("NewUser"), "201", ok("The administrator and a token, shown once", schema_ref("Bootstrapped"))) },
            "/api/v1/users": {
                "get": op("List users (administrators)", "users", &[], None, "200", ok("Users", list_of("User"))),
                "post": op("Create a user or bot user (administrators)", "users", &[], Some("NewUser"), "201", user())
            },
            "/api/v1/users/{id}": {
                "get": op("Show a user (themself or administrators)", "users", &["id"], None, "200", user()),
                "put": op("Change a user: profile (themself), admin and enabled flags (administrators)", "users", &["id"], Some("UserChange"), "200", user()),
                "patch": op("Same as PUT", "users", &["id"], Some("UserChange"), "200", user()),
                "delete": op("Delete a user and their personal namespace (administrators)", "users", &["id"], None, "204", no_content())
            },
            "/api/v1/users/{id}/application_tokens": {
                "get": op("List a user's access tokens (themself or administrators)", "tokens", &["id"], None, "200", ok("Tokens", list_of("AccessToken"))),
                "post": op("Create an access token; the secret is in the answer and nowhere else", "tokens", &["id"], Some("NewToken"), "201", ok("The token and its secret", schema_ref("CreatedToken")))
            },
            "/api/v1/users/application_tokens/{id}": {
                "delete": op("Revoke an access token", "tokens", &["id"], None, "200", ok("The revoked token", schema_ref("AccessToken")))
            },
            "/api/v1/teams": {
                "get": op("List the teams the caller may see", "teams", &[], None, "200", ok("Teams", list_of("Team"))),
                "post": op("Create a team owned by the caller", "teams", &[], Some("NewTeam"), "201", team())
            },
            "/api/v1/teams/{id}": {
                "get": op("Show a team", "teams", &["id"], None, "200", team()),
                "put": op("Change a team's description (owners)", "teams", &["id"], Some("TeamChange"), "200", team()),
                "patch": op("Same as PUT", "teams", &["id"], Some("TeamChange"), "200", team()),
                "delete": op("Delete a team that owns no namespaces (owners)", "teams", &["id"], None, "204", no_content())
            },
            "/api/v1/teams/{id}/members": {
                "get": op("List a team's members", "teams", &["id"], None, "200", ok("Members", list_of("TeamMember"))),
                "post": op("Add a member (owners)", "teams", &["id"], Some("NewMember"), "201", ok("The member", schema_ref("TeamMember")))
            },
            "/api/v1/teams/{id}/members/{user_id}": {
                "put": op("Change a member's role (owners)", "teams", &["id", "user_id"], Some("RoleChange"), "204", no_content()),
                "delete": op("Remove a member (owners)", "teams", &["id", "user_id"], None, "204", no_content())
            },
            "/api/v1/teams/{id}/namespaces": {
                "get": op("List a team's namespaces", "teams", &["id"], None, "200", ok("Namespaces", list_of("Namespace")))
            },
            "/api/v1/namespaces": {
                "get": op("List the namespaces the caller may pull from", "namespaces", &[], None, "200", ok("Namespaces", list_of("Namespace"))),
                "post": op("Create a namespace for a team", "namespaces", &[], Some("NewNamespace"), "201", ns())
            },
            "/api/v1/namespaces/{id}/repositories": {
                "get": op("List a namespace's repositories", "repositories", &["id"], None, "200", ok("Repositories", list_of("Repository")))
            },
            "/api/v1/repositories": {
                "get": op("List the repositories the caller may pull from", "repositories", &[], None, "200", ok("Repositories", list_of("Repository")))
            },
            "/api/v1/repositories/{id}": {
                "get": op("Show a repository", "repositories", &["id"], None, "200", ok("The repository", schema_ref("Repository"))),
                "put": op("Change a repository's description", "repositories", &["id"], Some("RepositoryChange"), "200", ok("The repository", schema_ref("Repository"))),
                "patch": op("Same as PUT", "repositories", &["id"], Some("RepositoryChange"), "200", ok("The repository", schema_ref("Repository"))),
                "delete": op("Delete every manifest of a repository from the registry", "repositories", &["id"], None, "204", no_content())
            },
            "/api/v1/repositories/{id}/tags": {
                "get": {
                    "summary": "A page of a repository's tags; query: name (substring), label (key=value or key), sort (pushed|name), page, per_page",
                    "tags": ["repositories"],
                    "parameters": [
                        { "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "format": "int64" } },
                        { "name": "name", "in": "query", "schema": { "type": "string" } },
                        { "name": "label", "in": "query", "schema": { "type": "string" } },
                        { "name": "sort", "in": "query", "schema": { "type": "string", "enum": ["pushed", "name"] } },
                        { "name": "page", "in": "query", "schema": { "type": "integer" } },
                        { "name": "per_page", "in": "query", "schema": { "type": "integer" } }
                    ],
                    "responses": { "200": ok("A page of tags", schema_ref("TagPage")), "404": ok("No such repository", schema_ref("Error")) }
                }
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

fn schemas() -> Value {
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
            "is_admin": s("boolean"), "is_enabled": s("boolean"), "is_bot": s("boolean"), "created_at": time() } },
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
        "CreatedToken": { "type": "object", "properties": { "token": schema_ref("AccessToken"), "secret": s("string") } },
        "Team": { "type": "object", "properties": {
            "id": id(), "name": s("string"), "description": s("string"), "member_count": s("integer"),
            "namespace_count": s("integer"), "role": { "type": "string", "nullable": true, "enum": ["viewer", "contributor", "owner"] },
            "created_at": time() } },
        "NewTeam": { "type": "object", "required": ["name"], "properties": { "name": s("string"), "description": s("string") } },
        "TeamChange": { "type": "object", "required": ["description"], "properties": { "description": s("string") } },
        "TeamMember": { "type": "object", "properties": {
            "user_id": id(), "username": s("string"), "display_name": s("string"), "is_bot": s("boolean"),
            "role": role(), "since": time() } },
        "NewMember": { "type": "object", "required": ["username", "role"], "properties": { "username": s("string"), "role": role() } },
        "RoleChange": { "type": "object", "required": ["role"], "properties": { "role": role() } },
        "Namespace": { "type": "object", "properties": {
            "id": id(), "name": s("string"), "description": s("string"), "visibility": visibility(),
            "team_id": id(), "team_name": s("string"), "is_personal": s("boolean"), "created_at": time(),
            "role": { "type": "string", "nullable": true, "enum": ["viewer", "contributor", "owner"] },
            "abilities": { "type": "object", "properties": {
                "pull": s("boolean"), "push": s("boolean"), "delete": s("boolean"),
                "change_visibility": s("boolean"), "edit": s("boolean"), "delete_namespace": s("boolean") } } } },
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
            "index_entries": { "type": "array", "items": { "type": "array" } }, "can_delete": s("boolean"), "registry_host": s("string") } }
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
