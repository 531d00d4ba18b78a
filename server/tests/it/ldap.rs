//! Signing in with a directory password, against a real OpenLDAP `slapd` (Debian's, installed
//! by `deploy/local/setup.sh`) on 127.0.0.1, speaking StartTLS with a certificate of the
//! test's own CA, with a test tree: people, one of them disabled, and a service account.

use crate::common;

use axum::http::StatusCode;
use common::slapd::*;
use common::stack::{self, Stack};
use common::*;

async fn user_source(db: &sqlx::PgPool, name: &str) -> Option<String> {
    sqlx::query_scalar(r#"select source from "user" where username = $1"#).bind(name).fetch_optional(db).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_people_sign_in_with_their_directory_password() {
    let mut slapd = Slapd::start();
    let db = fresh_db().await;
    let app = app_with(&db, |c| slapd.configure(c)).await;
    // A local administrator exists before anyone from the directory.
    let root = sign_up(&app, "root", "local root password").await;
    assert!(me(&app, &root).await.unwrap().is_admin);

    // dora signs in with her directory password, as a browser without JavaScript does; her
    // account is made then, with her name and address from the directory.
    assert_eq!(user_source(&db, "dora").await, None);
    let r = post_form(&app, "/api/login", "/login", &[("username", "dora"), ("password", DORA_PW)]).await;
    assert_eq!(r.location(), Some("/"), "{} {}", r.status, r.body);
    let dora = r.session_cookie().expect("a session");
    let who = me(&app, &dora).await.expect("signed in");
    assert_eq!((who.username.as_str(), who.display_name.as_str()), ("dora", "Dora Directory"));
    assert_eq!(who.email.as_deref(), Some("dora@example.org"));
    assert!(!who.is_admin);
    assert_eq!(user_source(&db, "dora").await.as_deref(), Some("ldap"));
    // The second sign-in finds the same account (Portus's "second login fails").
    assert!(log_in(&app, "dora", DORA_PW).await.status.is_success());

    // Refused: a wrong password, an empty one (an "unauthenticated bind" to LDAP), a person
    // the filter excludes (disabled), one with no password in the directory, a stranger.
    for (name, password) in [
        ("dora", "not her password"),
        ("dora", ""),
        ("evan", "evan password 1"),
        ("nopass", "anything at all"),
        ("zed", "x"),
    ] {
        let r = log_in(&app, name, password).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}/{password:?}: {}", r.body);
    }
    assert_eq!(user_source(&db, "evan").await, None, "no account for a refused person");

    // With local passwords for administrators only, root still signs in and a local user
    // (made before) does not; sign-up is closed.
    let _ = sign_up(&app, "lou", "lou's local password").await;
    let strict = app_with(&db, |c| {
        slapd.configure(c);
        c.local_passwords = false;
    })
    .await;
    assert!(log_in(&strict, "root", "local root password").await.status.is_success());
    let r = log_in(&strict, "lou", "lou's local password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("directory account"), "{}", r.body);
    assert!(log_in(&strict, "dora", DORA_PW).await.status.is_success());
    let r = call(
        &strict,
        "/api/signup",
        &[("username", "newbie"), ("password", "pw pw pw pw"), ("password_confirm", "pw pw pw pw")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The directory changes her address: the next sign-in brings it over.
    slapd.modify(&format!(
        "dn: uid=dora,ou=people,{SUFFIX}\nchangetype: modify\nreplace: mail\nmail: dora.new@example.org\n"
    ));
    let r = log_in(&app, "dora", DORA_PW).await;
    let who = me(&app, &r.session_cookie().unwrap()).await.unwrap();
    assert_eq!(who.email.as_deref(), Some("dora.new@example.org"));

    // Her password lives in the directory: no administrator sets it here, nor a reset link.
    let dora_id: i64 =
        sqlx::query_scalar(r#"select user_id from "user" where username = 'dora'"#).fetch_one(&db).await.unwrap();
    let r = call(
        &app,
        "/api/admin/users/password",
        &[("id", &dora_id.to_string()), ("password", "a local password")],
        Some(&root),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // StartTLS is checked against the CA given: a directory whose certificate another CA
    // signed is not trusted with a password.
    let other_ca = slapd.dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, common::pki::test_pki().0).unwrap();
    let wary = app_with(&db, |c| {
        slapd.configure(c);
        c.ldap_ca_file = path_str(&other_ca);
    })
    .await;
    assert_eq!(log_in(&wary, "dora", DORA_PW).await.status, StatusCode::SERVICE_UNAVAILABLE);

    // `portcullis doctor` says whether the directory answers, and what to check when not.
    let mut config = server::Config::defaults();
    slapd.configure(&mut config);
    let ldap = config.app_settings().ldap.expect("configured");
    let check = server::doctor::directory_check(ldap.clone()).await;
    assert_eq!(check.status, server::doctor::Status::Ok, "{check:?}");

    // The directory stops: dora gets a clear answer, the local administrator still signs in.
    slapd.stop();
    let check = server::doctor::directory_check(ldap).await;
    assert_eq!(check.status, server::doctor::Status::Fail, "{check:?}");
    assert!(check.fix.as_deref().unwrap_or_default().contains("ldap_url"), "{check:?}");
    let r = log_in(&app, "dora", DORA_PW).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.body.contains("directory"), "{}", r.body);
    assert!(log_in(&app, "root", "local root password").await.status.is_success());
    // A name nobody has and a local name with a wrong password get the same answer, in the
    // browser and at the token endpoint: the outage does not tell local names from others.
    let unknown = log_in(&app, "nobody-here", "a password").await;
    let local = log_in(&app, "root", "not root's password").await;
    assert_eq!((unknown.status, &unknown.body), (StatusCode::UNAUTHORIZED, &local.body));
    let token = |user: &'static str, password: &'static str| {
        let req = axum::http::Request::get("/v2/token?service=portcullis-registry&scope=repository:root/app:pull")
            .header(axum::http::header::AUTHORIZATION, basic(user, password))
            .body(axum::body::Body::empty())
            .unwrap();
        send(&app, req)
    };
    let (unknown, local) = (token("nobody-here", "a password").await, token("root", "not root's password").await);
    assert_eq!((unknown.status, &unknown.body), (StatusCode::UNAUTHORIZED, &local.body));
    assert_eq!(token("dora", DORA_PW).await.status, StatusCode::SERVICE_UNAVAILABLE);
    slapd.run();
    assert!(log_in(&app, "dora", DORA_PW).await.status.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_password_logs_skopeo_in_and_pushes() {
    let slapd = Slapd::start();
    let db = fresh_db().await;
    let stack = Stack::start_with(&db, |c| slapd.configure(c)).await;
    let image = stack::oci_image(stack.dir.path(), "hello from dora", &[]);
    // skopeo login with the directory password: dora's first sign-in makes her account.
    let login = stack.skopeo(&["login", "--tls-verify=false", "-u", "dora", "-p", DORA_PW, &stack.registry]).await;
    login.expect_ok("skopeo login with dora's directory password");
    let bad = stack.skopeo(&["login", "--tls-verify=false", "-u", "dora", "-p", "wrong", &stack.registry]).await;
    assert!(!bad.ok, "a wrong directory password must not log in");
    // She pushes to her personal namespace and pulls back; the refused twins: a wrong
    // password, an empty one, and evan, whom the directory disabled.
    let creds = format!("dora:{DORA_PW}");
    stack.push(&image, &creds, "dora/app:1").await.expect_ok("dora pushes with her directory password");
    stack.inspect(Some(&creds), "dora/app:1").await.expect_ok("dora pulls");
    stack.push(&image, "dora:wrong password", "dora/app:2").await.expect_refused("a wrong directory password");
    stack.inspect(Some("dora:"), "dora/app:1").await.expect_refused("an empty password");
    stack.push(&image, "evan:evan password 1", "evan/app:1").await.expect_refused("a disabled directory user");
}

/// The team memberships of `name`: (team, role, synced), by team.
async fn memberships(db: &sqlx::PgPool, name: &str) -> Vec<(String, String, bool)> {
    sqlx::query_as(
        r#"select t.name, m.role::text, m.synced from team_member m join team t using (team_id)
           join "user" u on u.user_id = m.user_id
           where u.username = $1 and t.personal_user_id is null order by t.name"#,
    )
    .bind(name)
    .fetch_all(db)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_groups_become_teams_and_administrators() {
    let slapd = Slapd::start();
    let db = fresh_db().await;
    let app = app_with(&db, |c| slapd.configure(c)).await;
    let root = sign_up(&app, "root", "local root password").await;
    let bob = sign_up(&app, "bob", "bob's local password").await;
    for team in ["acme", "ops", "web", "lab"] {
        let r = call(&app, "/api/teams/create", &[("name", team), ("description", "")], Some(&root)).await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    let map = |cookie: &str, group: &str, team: &str, role: &str, admin: bool| {
        let (app, cookie) = (app.clone(), cookie.to_string());
        let mut pairs =
            vec![("group".to_string(), group.to_string()), ("team".into(), team.into()), ("role".into(), role.into())];
        if admin {
            pairs.push(("admin".into(), "true".into()));
        }
        // A bare name is a directory group's name: matched so only when asked for.
        if !group.contains('=') {
            pairs.push(("match_by".into(), "name".into()));
        }
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            call(&app, "/api/admin/group-mappings/add", &pairs, Some(&cookie)).await
        }
    };
    // Only administrators map groups: bob may not.
    assert_eq!(map(&bob, "developers", "acme", "owner", false).await.status, StatusCode::FORBIDDEN);
    // developers (by name) → acme contributor and (by DN) → ops viewer; registry-admins →
    // administrators; a group no one is in → web.
    assert!(map(&root, "developers", "acme", "contributor", false).await.status.is_success());
    let dn = format!("CN=Developers,ou=groups,{SUFFIX}");
    assert!(map(&root, &dn, "ops", "viewer", false).await.status.is_success());
    assert!(map(&root, "registry-admins", "", "viewer", true).await.status.is_success());
    assert!(map(&root, "nobody-is-here", "web", "owner", false).await.status.is_success());
    // registry-admins also own lab, which has no other owner (root leaves it).
    assert!(map(&root, "registry-admins", "lab", "owner", false).await.status.is_success());
    sqlx::query("delete from team_member where team_id = (select team_id from team where name = 'lab')")
        .execute(&db)
        .await
        .unwrap();
    let dup = map(&root, "developers", "acme", "owner", false).await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", dup.body);
    assert_eq!(map(&root, "developers", "", "viewer", false).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Matching a directory group by its name is chosen, never assumed from a bare name.
    let pairs = [("group", "developers"), ("team", "web"), ("role", "viewer")];
    let r = call(&app, "/api/admin/group-mappings/add", &pairs, Some(&root)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("not a DN"), "{}", r.body);
    // A DN mapping is that group's, not a group of the same name in another OU: gus, in
    // cn=developers,ou=groups, gets nothing from this one.
    assert!(map(&root, &format!("cn=developers,ou=elsewhere,{SUFFIX}"), "web", "owner", false)
        .await
        .status
        .is_success());

    // The admin page shows the settings (never the service account's password) and what the
    // directory says of gus.
    let page = get(&app, "/admin/authentication?try=gus", Some(&root)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("ldap_user_base") && !page.body.contains(SERVICE_PW), "{}", page.body);
    assert!(page.body.contains("cn=developers,ou=groups") && page.body.contains("acme (contributor)"), "{}", page.body);

    // gus signs in: he joins acme and ops as the mappings say, and becomes an administrator.
    let gus = log_in(&app, "gus", GUS_PW).await;
    assert!(gus.status.is_success(), "{}", gus.body);
    assert_eq!(
        memberships(&db, "gus").await,
        [
            ("acme".to_string(), "contributor".to_string(), true),
            ("lab".into(), "owner".into(), true),
            ("ops".into(), "viewer".into(), true)
        ]
    );
    assert!(me(&app, &gus.session_cookie().unwrap()).await.unwrap().is_admin);
    // dora is a developer too, and acme's owner adds her to web by hand.
    assert!(log_in(&app, "dora", DORA_PW).await.status.is_success());
    let r =
        call(&app, "/api/teams/members/add", &[("team", "web"), ("username", "dora"), ("role", "viewer")], Some(&root))
            .await;
    assert!(r.status.is_success(), "{}", r.body);

    // gus leaves developers and registry-admins in the directory: at his next sign-in he
    // leaves acme and ops, and is no administrator any more, but stays lab's owner (its last);
    // dora keeps all of hers.
    slapd.modify(&format!(
        "dn: cn=developers,ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\nmember: uid=gus,ou=people,{SUFFIX}\n\n\
         dn: cn=registry-admins,ou=groups,{SUFFIX}\nchangetype: modify\nreplace: uniqueMember\nuniqueMember: uid=nobody,ou=people,{SUFFIX}\n"
    ));
    let gus = log_in(&app, "gus", GUS_PW).await;
    assert_eq!(memberships(&db, "gus").await, [("lab".to_string(), "owner".to_string(), true)]);
    assert!(!me(&app, &gus.session_cookie().unwrap()).await.unwrap().is_admin);
    // An administrator made by hand stays one, whatever the groups say.
    let gus_id: i64 =
        sqlx::query_scalar(r#"select user_id from "user" where username = 'gus'"#).fetch_one(&db).await.unwrap();
    let r = call(&app, "/api/admin/users/update", &[("id", &gus_id.to_string()), ("admin", "true")], Some(&root)).await;
    assert!(r.status.is_success(), "{}", r.body);
    let gus = log_in(&app, "gus", GUS_PW).await;
    assert!(me(&app, &gus.session_cookie().unwrap()).await.unwrap().is_admin);
    assert!(log_in(&app, "dora", DORA_PW).await.status.is_success());
    assert_eq!(
        memberships(&db, "dora").await,
        [
            ("acme".to_string(), "contributor".to_string(), true),
            ("ops".into(), "viewer".into(), true),
            ("web".into(), "viewer".into(), false)
        ]
    );
    // Between sign-ins the periodic pass does the same, and disables whom the directory no
    // longer has: gus joins developers again, dora is disabled there.
    slapd.modify(&format!(
        "dn: cn=developers,ou=groups,{SUFFIX}\nchangetype: modify\nadd: member\nmember: uid=gus,ou=people,{SUFFIX}\n\n\
         dn: uid=dora,ou=people,{SUFFIX}\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n"
    ));
    let mut config = server::Config::defaults();
    slapd.configure(&mut config);
    let state = server::state(db.clone(), &config).await.unwrap();
    let report = app::backend::access::groups::sync_all(&state).await.unwrap();
    assert_eq!((report.people, report.disabled), (2, 1));
    assert_eq!(memberships(&db, "gus").await.len(), 3, "gus is back in acme and ops, and still owns lab");
    assert_eq!(log_in(&app, "dora", DORA_PW).await.status, StatusCode::UNAUTHORIZED);
    let enabled: bool =
        sqlx::query_scalar(r#"select is_enabled from "user" where username = 'dora'"#).fetch_one(&db).await.unwrap();
    assert!(!enabled, "dora is disabled here too");
    slapd.modify(&format!("dn: uid=dora,ou=people,{SUFFIX}\nchangetype: modify\ndelete: employeeType\n"));
    sqlx::query(r#"update "user" set is_enabled = true where username = 'dora'"#).execute(&db).await.unwrap();

    // Removing a mapping takes its members out at their next sign-in; hand-made stay.
    let id: i64 = sqlx::query_scalar("select group_mapping_id from group_mapping where group_name = 'developers'")
        .fetch_one(&db)
        .await
        .unwrap();
    let r = call(&app, "/api/admin/group-mappings/delete", &[("id", &id.to_string())], Some(&root)).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(log_in(&app, "dora", DORA_PW).await.status.is_success());
    assert_eq!(
        memberships(&db, "dora").await,
        [("ops".to_string(), "viewer".to_string(), true), ("web".into(), "viewer".into(), false)]
    );
}

/// A mapping from before mappings named their source: with the directory alone configured it is
/// the directory's; with a provider beside it, it matches no one until an administrator says
/// whose it is (and a wrong or unknown source is refused).
#[tokio::test]
async fn mappings_without_a_source_get_the_only_one_or_wait_for_an_administrator() {
    let unsourced = |db: sqlx::PgPool| async move {
        server::migrate(&db).await.unwrap();
        sqlx::query("insert into group_mapping (group_name, grants_admin, match_by) values ('admins', true, 'name')")
            .execute(&db)
            .await
            .unwrap();
    };
    let source = |db: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, Option<String>>("select source from group_mapping where group_name = 'admins'")
            .fetch_one(&db)
            .await
            .unwrap()
    };
    // The directory alone (it need not answer for this): the mapping is its.
    let db = fresh_db().await;
    unsourced(db.clone()).await;
    let _ = app_with(&db, |c| c.ldap_url = "ldap://127.0.0.1:9".into()).await;
    assert_eq!(source(db.clone()).await.as_deref(), Some("ldap"));

    // The directory and a provider: it stays without, flagged, matching no one.
    let db = fresh_db().await;
    unsourced(db.clone()).await;
    let provider: app::backend::access::oidc::OidcSettings = serde_json::from_value(serde_json::json!({
        "name": "gitlab", "label": "GitLab", "issuer": "http://127.0.0.1:9", "client_id": "portcullis",
    }))
    .unwrap();
    let app = app_with(&db, |c| {
        c.ldap_url = "ldap://127.0.0.1:9".into();
        c.oidc_providers = server::config::OidcProviders(vec![provider]);
    })
    .await;
    assert_eq!(source(db.clone()).await, None);
    let root = sign_up(&app, "root", "local root password").await;
    let page = get(&app, "/admin/authentication", Some(&root)).await;
    assert!(page.body.contains("no source: matches no one") && page.body.contains("GitLab"), "{}", page.body);
    let id: i64 = sqlx::query_scalar("select group_mapping_id from group_mapping").fetch_one(&db).await.unwrap();
    let set = |pairs: Vec<(&'static str, &'static str)>| {
        let (app, root) = (app.clone(), root.clone());
        let id = id.to_string();
        async move {
            let mut all = vec![("id", id.as_str())];
            all.extend(pairs);
            call(&app, "/api/admin/group-mappings/source", &all, Some(&root)).await
        }
    };
    assert_eq!(set(vec![("source", "oidc:elsewhere")]).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        set(vec![("source", "ldap"), ("match_by", "dn")]).await.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "admins is no DN"
    );
    let r = set(vec![("source", "oidc:gitlab")]).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(source(db.clone()).await.as_deref(), Some("oidc:gitlab"));
    // A new mapping must say whose group it is, now that there are two sources.
    let pairs =
        [("group", "cn=admins,ou=groups,dc=example,dc=org"), ("team", ""), ("role", "viewer"), ("admin", "true")];
    let r = call(&app, "/api/admin/group-mappings/add", &pairs, Some(&root)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("choose where the group comes from"), "{}", r.body);
    let mut pairs = pairs.to_vec();
    pairs.push(("source", "ldap"));
    let r = call(&app, "/api/admin/group-mappings/add", &pairs, Some(&root)).await;
    assert!(r.status.is_success(), "{}", r.body);
    let m: app::model::GroupMappingView = r.parse();
    assert_eq!((m.source.as_deref(), m.match_by.as_str()), (Some("ldap"), "dn"));
}

#[tokio::test]
async fn an_administrator_tests_the_directory_and_is_told_in_words_when_it_is_down() {
    let mut slapd = Slapd::start();
    let db = fresh_db().await;
    let app = app_with(&db, |c| slapd.configure(c)).await;
    let root = sign_up(&app, "root", "local root password").await;
    let bob = sign_up(&app, "bob", "bob's own password").await;
    let r = call(&app, "/api/admin/connections", &[], Some(&bob)).await;
    assert_eq!(r.status, 403, "bob is not an administrator: {}", r.body);

    let r = call(&app, "/api/admin/connections", &[], Some(&root)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let up: serde_json::Value = r.json();
    assert_eq!((up[0]["service"].as_str(), up[0]["ok"].as_bool()), (Some("Directory (LDAP)"), Some(true)), "{up}");

    slapd.stop();
    let down: serde_json::Value = call(&app, "/api/admin/connections", &[], Some(&root)).await.json();
    assert_eq!(down[0]["ok"], false, "{down}");
    let message = down[0]["message"].as_str().unwrap();
    assert!(message.starts_with("Nothing answers at ldap://"), "said for people, not as an I/O error: {message}");
}
