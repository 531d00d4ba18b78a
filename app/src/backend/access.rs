//! Gathering the facts the policy decides on: who is asking, the site's access settings, and
//! what a namespace is to the actor. The decisions themselves live in `crate::policy`.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::users::User;
use crate::error::{AppError, AppResult};
use crate::grant::Restriction;
use crate::model::{TeamRole, Visibility};
use crate::policy::{AccessSettings, Actor, Decision, NamespaceFacts};

/// Who is making a request: a user (through a session, a password, an access token or a
/// refresh token), or nobody. Every door (pages and server functions, the REST API, the token
/// endpoint) builds one and asks it for the policy's [`Actor`]: this is the one place where a
/// credential's restriction is applied.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    pub user: Option<User>,
    /// Set when the user authenticated with an access token.
    pub token: Option<TokenScope>,
}

/// The access token a request authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScope {
    pub token_id: i64,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub restriction: Restriction,
}

impl Principal {
    pub fn anonymous() -> Self {
        Self::default()
    }

    pub fn user(user: User) -> Self {
        Self { user: Some(user), token: None }
    }

    /// The restriction of the credential, if it has one.
    pub fn restriction(&self) -> Option<&Restriction> {
        self.token.as_ref().map(|t| &t.restriction).filter(|r| r.is_restricted())
    }

    /// The actor the policy judges. A restricted access token never carries its owner's
    /// administrator powers, at any door: it is for pulling from some namespaces, not for
    /// pulling from everyone's, listing the catalog, reading the user list or every team.
    pub fn actor(&self) -> Actor {
        let restricted = self.restriction().is_some();
        match &self.user {
            Some(u) => Actor::user(u.id, u.is_admin && !restricted, u.is_enabled),
            None => Actor::ANONYMOUS,
        }
    }

    /// An administrator, running the site.
    pub fn require_admin(&self) -> AppResult<()> {
        check(crate::policy::can_administer(&self.actor()))
    }

    /// Whether the credential reaches a namespace (`None`: the global one) at all. A token
    /// limited to some namespaces sees nothing of the others, in the API as in the registry.
    pub fn reaches(&self, namespace_id: Option<i64>) -> bool {
        self.restriction().is_none_or(|r| r.reaches(namespace_id))
    }

    /// The signed-in user, or `Unauthorized`.
    pub fn require_user(&self) -> AppResult<&User> {
        self.user.as_ref().ok_or_else(|| AppError::unauthorized("Please sign in."))
    }

    /// The signed-in user, allowed to change things: a restricted token is refused.
    pub fn require_writer(&self) -> AppResult<&User> {
        let user = self.require_user()?;
        if self.restriction().is_some() {
            return Err(AppError::forbidden("this access token is restricted and may not change anything"));
        }
        Ok(user)
    }

    pub fn name(&self) -> &str {
        self.user.as_ref().map(|u| u.username.as_str()).unwrap_or("anonymous")
    }
}

/// Turns a policy refusal into the error the caller sees.
pub fn check(decision: Decision) -> AppResult<()> {
    decision.map_err(|d| AppError::forbidden(capitalise(d.0)))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect::<String>() + ".",
        None => String::new(),
    }
}

/// The site's access settings: kept in PostgreSQL (editable by administrators, shared by
/// replicas) and cached here for a few seconds so that hot paths do not query them.
#[derive(Clone)]
pub struct SettingsStore {
    inner: Arc<RwLock<(AccessSettings, Instant)>>,
}

const SETTINGS_TTL: Duration = Duration::from_secs(5);

impl SettingsStore {
    pub fn new(initial: AccessSettings) -> Self {
        Self { inner: Arc::new(RwLock::new((initial, Instant::now()))) }
    }

    /// Writes `defaults` unless settings were stored already, then loads what is stored.
    pub async fn init(db: &PgPool, defaults: AccessSettings) -> AppResult<Self> {
        sqlx::query!(
            "insert into access_setting (push_policy, delete_enabled, contributors_may_delete,
                 users_may_create_teams, users_may_create_namespaces, users_may_change_visibility)
             values ($1, $2, $3, $4, $5, $6) on conflict do nothing",
            defaults.push_policy.as_str(),
            defaults.delete_enabled,
            defaults.contributors_may_delete,
            defaults.users_may_create_teams,
            defaults.users_may_create_namespaces,
            defaults.users_may_change_visibility
        )
        .execute(db)
        .await?;
        Ok(Self::new(load(db).await?))
    }

    /// The current settings (reloaded from PostgreSQL when the cached copy is old).
    pub async fn get(&self, db: &PgPool) -> AccessSettings {
        let (cached, at) = *self.inner.read().expect("settings lock");
        if at.elapsed() < SETTINGS_TTL {
            return cached;
        }
        match load(db).await {
            Ok(fresh) => {
                *self.inner.write().expect("settings lock") = (fresh, Instant::now());
                fresh
            }
            Err(_) => cached,
        }
    }

    /// Stores new settings and, when they changed, records who changed what, in one
    /// transaction. Returns the previous settings.
    pub async fn set(&self, db: &PgPool, s: AccessSettings, by: &User) -> AppResult<AccessSettings> {
        let mut tx = db.begin().await?;
        // The row lock orders two administrators saving at once.
        sqlx::query!("select 1 as one from access_setting for update").fetch_one(&mut *tx).await?;
        let before = load(&mut *tx).await?;
        sqlx::query!(
            "update access_setting set push_policy = $1, delete_enabled = $2, contributors_may_delete = $3,
                 users_may_create_teams = $4, users_may_create_namespaces = $5,
                 users_may_change_visibility = $6, updated_at = now()",
            s.push_policy.as_str(),
            s.delete_enabled,
            s.contributors_may_delete,
            s.users_may_create_teams,
            s.users_may_create_namespaces,
            s.users_may_change_visibility
        )
        .execute(&mut *tx)
        .await?;
        if before != s {
            let details = serde_json::json!({ "from": before, "to": s });
            super::audit::record(&mut tx, Some(by), "settings.update", super::audit::Target::settings(), details)
                .await?;
        }
        tx.commit().await?;
        *self.inner.write().expect("settings lock") = (s, Instant::now());
        Ok(before)
    }
}

async fn load<'e>(db: impl sqlx::PgExecutor<'e>) -> AppResult<AccessSettings> {
    let r = sqlx::query!("select * from access_setting").fetch_one(db).await?;
    Ok(AccessSettings {
        push_policy: r.push_policy.parse().map_err(|e: String| {
            tracing::error!(error = %e, "bad push policy stored");
            AppError::Internal
        })?,
        delete_enabled: r.delete_enabled,
        contributors_may_delete: r.contributors_may_delete,
        users_may_create_teams: r.users_may_create_teams,
        users_may_create_namespaces: r.users_may_create_namespaces,
        users_may_change_visibility: r.users_may_change_visibility,
    })
}

/// A namespace row with the facts about it from one user's point of view.
#[derive(Debug, Clone)]
pub struct NamespaceRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub team_id: i64,
    pub team_name: String,
    pub is_personal: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub role: Option<TeamRole>,
}

impl NamespaceRow {
    pub fn facts(&self) -> NamespaceFacts {
        NamespaceFacts { is_global: false, is_personal: self.is_personal, visibility: self.visibility, role: self.role }
    }
}

/// Namespaces by id or by name, with `user_id`'s role in each: one query. Callers filter
/// them through the policy.
async fn namespace_rows(
    db: &PgPool,
    user_id: Option<i64>,
    id: Option<i64>,
    names: Option<&[String]>,
) -> AppResult<Vec<NamespaceRow>> {
    Ok(sqlx::query_as!(
        NamespaceRow,
        r#"select n.namespace_id as id, n.name, n.description, n.visibility as "visibility: Visibility",
                  n.team_id, t.name as team_name, (t.personal_user_id is not null) as "is_personal!",
                  n.created_at as "created_at: _", m.role as "role?: TeamRole"
           from namespace n
           join team t on t.team_id = n.team_id
           left join team_member m on m.team_id = n.team_id and m.user_id = $1
           where ($2::bigint is null or n.namespace_id = $2) and ($3::text[] is null or n.name = any($3))
           order by n.name"#,
        user_id,
        id,
        names
    )
    .fetch_all(db)
    .await?)
}

/// Namespaces by name, with `user_id`'s role in each.
pub async fn namespaces_by_name(db: &PgPool, user_id: Option<i64>, names: &[String]) -> AppResult<Vec<NamespaceRow>> {
    namespace_rows(db, user_id, None, Some(names)).await
}

/// One namespace by id, with `user_id`'s role in it.
pub async fn namespace_by_id(db: &PgPool, user_id: Option<i64>, id: i64) -> AppResult<Option<NamespaceRow>> {
    Ok(namespace_rows(db, user_id, Some(id), None).await?.pop())
}

/// Which namespaces a list shows: those the principal may pull from (the policy's
/// [`crate::policy::pull_filter`], applied in the query), of one team or matching a text.
#[derive(Debug, Clone, Default)]
pub struct NamespaceQuery {
    pub team_id: Option<i64>,
    /// Part of the name or description; empty for all.
    pub text: String,
    /// Only namespaces whose team the principal belongs to.
    pub member_only: bool,
}

/// The ids of every namespace the principal may pull from, and whether the global namespace
/// is one of them: for queries of repositories and tags, which filter before they limit.
pub async fn pullable_ids(state: &super::AppState, p: &Principal) -> AppResult<(Vec<i64>, bool)> {
    let s = state.access.get(&state.db).await;
    let f = crate::policy::pull_filter(&p.actor(), &s);
    let ids = sqlx::query_scalar!(
        r#"select n.namespace_id from namespace n
           left join team_member m on m.team_id = n.team_id and m.user_id = $1
           where (n.visibility::text = any($2) or (n.visibility::text = any($3) and m.role is not null))
             and ($4::bigint[] is null or n.namespace_id = any($4))"#,
        p.user.as_ref().map(|u| u.id),
        &names(&f.anyone),
        &names(&f.members),
        p.restriction().and_then(|r| r.namespace_ids.as_deref())
    )
    .fetch_all(&state.db)
    .await?;
    Ok((ids, f.global && p.reaches(None)))
}

fn names(v: &[Visibility]) -> Vec<String> {
    v.iter().map(|v| v.as_str().to_string()).collect()
}

/// A page of the namespaces the principal may pull from, by name.
pub async fn visible_namespaces(
    state: &super::AppState,
    p: &Principal,
    q: &NamespaceQuery,
    req: crate::model::PageRequest,
) -> AppResult<crate::model::Page<NamespaceRow>> {
    let s = state.access.get(&state.db).await;
    let f = crate::policy::pull_filter(&p.actor(), &s);
    let (viewer, anyone, members) = (p.user.as_ref().map(|u| u.id), names(&f.anyone), names(&f.members));
    let only = p.restriction().and_then(|r| r.namespace_ids.clone());
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from namespace n
           left join team_member m on m.team_id = n.team_id and m.user_id = $1
           where (n.visibility::text = any($2) or (n.visibility::text = any($3) and m.role is not null))
             and ($4::bigint[] is null or n.namespace_id = any($4)) and ($5::bigint is null or n.team_id = $5)
             and ($6 = '' or n.name ilike '%' || $6 || '%' or n.description ilike '%' || $6 || '%')
             and (not $7 or m.role is not null)"#,
        viewer,
        &anyone,
        &members,
        only.as_deref(),
        q.team_id,
        q.text,
        q.member_only
    )
    .fetch_one(&state.db)
    .await?;
    let items = sqlx::query_as!(
        NamespaceRow,
        r#"select n.namespace_id as id, n.name, n.description, n.visibility as "visibility: Visibility",
                  n.team_id, t.name as team_name, (t.personal_user_id is not null) as "is_personal!",
                  n.created_at as "created_at: _", m.role as "role?: TeamRole"
           from namespace n
           join team t on t.team_id = n.team_id
           left join team_member m on m.team_id = n.team_id and m.user_id = $1
           where (n.visibility::text = any($2) or (n.visibility::text = any($3) and m.role is not null))
             and ($4::bigint[] is null or n.namespace_id = any($4)) and ($5::bigint is null or n.team_id = $5)
             and ($6 = '' or n.name ilike '%' || $6 || '%' or n.description ilike '%' || $6 || '%')
             and (not $7 or m.role is not null)
           order by n.name limit $8 offset $9"#,
        viewer,
        &anyone,
        &members,
        only.as_deref(),
        q.team_id,
        q.text,
        q.member_only,
        req.limit(),
        req.offset()
    )
    .fetch_all(&state.db)
    .await?;
    Ok(req.of(items, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> User {
        User {
            id: 1,
            username: "root".into(),
            display_name: String::new(),
            email: None,
            password_hash: None,
            is_admin: true,
            is_enabled: true,
            is_bot: false,
            auth_epoch: 0,
        }
    }

    fn with(restriction: Restriction) -> Principal {
        Principal { user: Some(admin()), token: Some(TokenScope { token_id: 9, expires_at: None, restriction }) }
    }

    #[test]
    fn a_restricted_credential_is_never_an_administrator() {
        use crate::policy::can_administer;
        assert!(can_administer(&Principal::user(admin()).actor()).is_ok());
        assert!(can_administer(&with(Restriction::default()).actor()).is_ok(), "an unrestricted token is its owner");
        for r in [
            Restriction { namespace_ids: None, pull_only: true },
            Restriction { namespace_ids: Some(vec![3]), pull_only: false },
        ] {
            let p = with(r.clone());
            assert!(can_administer(&p.actor()).is_err(), "{r:?}");
            assert!(p.require_writer().is_err(), "{r:?}");
            assert_eq!(p.restriction(), Some(&r));
        }
        let limited = with(Restriction { namespace_ids: Some(vec![3]), pull_only: false });
        assert!(limited.reaches(Some(3)) && !limited.reaches(Some(4)) && !limited.reaches(None));
        assert!(with(Restriction::default()).reaches(None));
    }
}
