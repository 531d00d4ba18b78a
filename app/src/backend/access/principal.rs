//! Gathering the facts the policy decides on: who is asking, the site's access settings, and
//! what a namespace is to the actor; and the [`Change`] a write runs on, begun only by a
//! person the policy allowed or by one of the system's named duties. The decisions themselves
//! live in `crate::policy`.

use sqlx::{PgConnection, PgPool};

use crate::error::{AppError, AppResult};
use crate::grant::Restriction;
use crate::policy::{Actor, Decision};

/// A user row as the backend needs it. Not `Serialize`: it carries the password hash.
#[derive(Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub is_enabled: bool,
    pub is_bot: bool,
    pub auth_epoch: i32,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_admin", &self.is_admin)
            .field("is_enabled", &self.is_enabled)
            .field("is_bot", &self.is_bot)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// Builds a [`User`] from a query row that selected the user's columns under their usual
/// names (`user_id, username, display_name, email, password_hash, is_admin, is_enabled,
/// is_bot, auth_epoch`), for queries that join the user to something else.
#[macro_export]
macro_rules! user_from_row {
    ($row:expr) => {
        $crate::backend::access::principal::User {
            id: $row.user_id,
            username: $row.username,
            display_name: $row.display_name,
            email: $row.email,
            password_hash: $row.password_hash,
            is_admin: $row.is_admin,
            is_enabled: $row.is_enabled,
            is_bot: $row.is_bot,
            auth_epoch: $row.auth_epoch,
        }
    };
}

/// Who is making a request: a user (through a session, a password, an access token or a
/// refresh token), or nobody. Every door (pages and server functions, the REST API, the token
/// endpoint) builds one and asks it for the policy's [`Actor`]: this is the one place where a
/// credential's restriction is applied.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    pub user: Option<User>,
    /// Set when the user authenticated with an access token.
    pub token: Option<UsedToken>,
}

/// The access token a request authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedToken {
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

    /// Whether the principal may see a namespace (`None`: the global one) and what is in it:
    /// its credential reaches it and the policy lets them pull from it. Everything they may
    /// not see is "not found" to them.
    pub fn may_see(
        &self,
        namespace_id: Option<i64>,
        facts: &crate::policy::NamespaceFacts,
        s: &crate::policy::AccessSettings,
    ) -> bool {
        self.reaches(namespace_id) && crate::policy::can_pull(&self.actor(), facts, s).is_ok()
    }

    /// The signed-in user, or `Unauthorized`.
    pub fn require_user(&self) -> AppResult<&User> {
        self.user.as_ref().ok_or_else(|| AppError::unauthorized("Please sign in."))
    }

    /// The one gate for a change: the signed-in user, with a credential that may change things
    /// (a restricted token may not), whom `rule` (a `policy::can_*` question about the
    /// principal's actor) allows. What it hands back, [`Allowed`], is made nowhere else, so an
    /// operation that needs one cannot have skipped the check.
    pub fn allowed(&self, rule: impl FnOnce(&Actor) -> Decision) -> AppResult<Allowed<'_>> {
        let user = self.require_writer()?;
        check(rule(&self.actor()))?;
        Ok(Allowed { user })
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

/// A change the policy allowed, and who makes it: see [`Principal::allowed`].
#[derive(Debug, Clone, Copy)]
pub struct Allowed<'a> {
    user: &'a User,
}

impl<'a> Allowed<'a> {
    /// Who makes the change (for the activity log).
    pub fn user(&self) -> &'a User {
        self.user
    }

    /// Begins the allowed change: a transaction that knows who makes it.
    pub async fn begin(self, db: &PgPool) -> AppResult<Change<'a>> {
        Ok(Change { conn: Conn::Transaction(db.begin().await?), by: By::Person(self.user) })
    }
}

/// The system's own jobs: the writes nobody asked for in a request. A [`Change`] is begun by a
/// person the policy [`Allowed`], or by one of these; there is no third way, so this list is
/// every write the system makes on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// The first start and the command line: the first administrator, the settings, an
    /// operator at the console.
    Setup,
    /// Signing in: failed attempts, the time of a web sign-in, an access token's last use, a refresh token's rotation, the
    /// account an LDAP or OpenID Connect sign-in creates or links, a recovery link redeemed
    /// (the link is the permission).
    SignIn,
    /// A registry event stored and applied; a pull counted.
    Ingest,
    /// The catalog reconcile.
    Reconcile,
    /// The directory pass: LDAP groups to teams, OpenID Connect accounts checked.
    DirectorySync,
    /// A cleanup policy's run.
    Cleanup,
    /// Webhook deliveries, queued and sent.
    Delivery,
    /// Retention: old rows pruned.
    Prune,
    /// The signing keys: made and rotated.
    Keys,
    /// The manifest gate: a refusal recorded in the activity log.
    Gate,
}

impl Duty {
    /// Begins one of the system's changes in a transaction.
    pub async fn begin(self, db: &PgPool) -> AppResult<Change<'static>> {
        Ok(Change { conn: Conn::Transaction(db.begin().await?), by: By::System(self) })
    }

    /// Begins a change whose commit is on disk before it returns, whatever the server's
    /// `synchronous_commit` (what is acknowledged to the registry must survive a crash of
    /// PostgreSQL). One round trip, like `begin`.
    pub async fn begin_durable(self, db: &PgPool) -> AppResult<Change<'static>> {
        let tx = db.begin_with("begin; set local synchronous_commit = on").await?;
        Ok(Change { conn: Conn::Transaction(tx), by: By::System(self) })
    }

    /// Begins a change made by the person the policy allowed, when someone asked for it, or
    /// as this duty when nobody did (a schedule, a worker).
    pub async fn begin_for<'a>(self, by: Option<Allowed<'a>>, db: &PgPool) -> AppResult<Change<'a>> {
        match by {
            Some(allowed) => allowed.begin(db).await,
            None => self.begin(db).await,
        }
    }

    /// One of the system's changes made of single statements, each its own transaction (no
    /// `begin`/`commit` round trips on the hot paths).
    pub async fn on(self, db: &PgPool) -> AppResult<Change<'static>> {
        Ok(Change { conn: Conn::Single(db.acquire().await?), by: By::System(self) })
    }
}

/// Who makes a [`Change`].
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    Person(&'a User),
    System(Duty),
}

/// A write to the database and who makes it: the connection every write runs on. Made only by
/// [`Allowed::begin`] and [`Duty`], so a helper that takes `&mut Change` cannot be called
/// without a policy decision or a named duty (and `app/tests/table_owners.rs` checks that no
/// write runs on anything else). Dropped without [`Change::commit`], it rolls back.
pub struct Change<'a> {
    conn: Conn,
    by: By<'a>,
}

enum Conn {
    Transaction(sqlx::Transaction<'static, sqlx::Postgres>),
    Single(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl<'a> Change<'a> {
    pub fn by(&self) -> By<'a> {
        self.by
    }

    /// The person making the change (`None`: the system).
    pub fn user(&self) -> Option<&'a User> {
        match self.by {
            By::Person(u) => Some(u),
            By::System(_) => None,
        }
    }

    pub async fn commit(self) -> AppResult<()> {
        if let Conn::Transaction(tx) = self.conn {
            tx.commit().await?;
        }
        Ok(())
    }
}

impl std::ops::Deref for Change<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match &self.conn {
            Conn::Transaction(tx) => tx,
            Conn::Single(c) => c,
        }
    }
}

impl std::ops::DerefMut for Change<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match &mut self.conn {
            Conn::Transaction(tx) => tx,
            Conn::Single(c) => c,
        }
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
        Principal { user: Some(admin()), token: Some(UsedToken { token_id: 9, expires_at: None, restriction }) }
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
