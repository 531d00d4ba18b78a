//! Invalidation of the token service's in-memory caches, across replicas, aimed at what a
//! change touched.
//!
//! Every change that can alter who may do what is written to the activity log, and the
//! activity log's writer works out its [`Effect`]: nothing (a push, a webhook, a reset link
//! asked for), one user (their password, epoch, rights, memberships, tokens), one namespace
//! (its visibility, its existence), or everything (the site's access settings, or anything
//! not known to be narrower). Unless it is nothing, it sends `NOTIFY portcullis_changes` with
//! the effect, in the same transaction. Each replica listens, and so does the writing process
//! at once, so its own next request never sees a stale entry.
//!
//! A cached entry carries the [`stamp`] read before its lookup; it is fresh while nothing it
//! depends on changed after that stamp ([`fresh`]). A lost connection to the listener, or a
//! notification that cannot be read, counts as a change of everything.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;

/// The channel changes are announced on.
pub const CHANNEL: &str = "portcullis_changes";

/// What a change can have altered in the caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Nothing any cache holds (an image pushed, a webhook saved, a reset link asked for).
    Nothing,
    /// One user: what their credentials stand for, and what they may do in each namespace.
    /// Their personal namespace (of the same name) too.
    User(String),
    /// One namespace, for everyone.
    Namespace(String),
    /// Anything at all.
    Everything,
}

impl Effect {
    /// The notification's payload.
    pub fn encode(&self) -> String {
        match self {
            Effect::Nothing => "nothing".into(),
            Effect::User(name) => format!("user:{name}"),
            Effect::Namespace(name) => format!("namespace:{name}"),
            Effect::Everything => "everything".into(),
        }
    }

    /// Reads a payload; one that cannot be read (an older replica's, say) is everything.
    pub fn decode(payload: &str) -> Effect {
        match payload.split_once(':') {
            Some(("user", name)) if !name.is_empty() => Effect::User(name.into()),
            Some(("namespace", name)) if !name.is_empty() => Effect::Namespace(name.into()),
            _ if payload == "nothing" => Effect::Nothing,
            _ => Effect::Everything,
        }
    }
}

/// Counts changes: stamps and change times come from it.
static TICK: AtomicU64 = AtomicU64::new(1);
/// When everything last changed.
static ALL: AtomicU64 = AtomicU64::new(0);

/// When each user and namespace last changed, by name, for as long as a cached entry could
/// still depend on it.
#[derive(Default)]
struct Changed {
    users: HashMap<String, (u64, Instant)>,
    namespaces: HashMap<String, (u64, Instant)>,
}

static CHANGED: LazyLock<RwLock<Changed>> = LazyLock::new(Default::default);

/// How long a change is remembered: longer than any cached entry lives (the password cache's
/// time is configurable; an hour is past any sensible value, and past it everything goes).
const REMEMBERED: Duration = Duration::from_secs(3600);
/// Changes remembered at most, per kind, before the old ones go (and, if none is old, all of
/// them go, with a change of everything).
const REMEMBERED_MAX: usize = 10_000;

/// The stamp to keep with an entry: read it before the lookup whose answer is cached.
pub fn stamp() -> u64 {
    TICK.load(Ordering::Acquire)
}

/// Whether an entry stamped `stamp`, about `user` and/or `namespace`, still holds.
pub fn fresh(stamp: u64, user: Option<&str>, namespace: Option<&str>) -> bool {
    if ALL.load(Ordering::Acquire) > stamp {
        return false;
    }
    if user.is_none() && namespace.is_none() {
        return true;
    }
    let changed = CHANGED.read().unwrap_or_else(|e| e.into_inner());
    let after = |map: &HashMap<String, (u64, Instant)>, name: Option<&str>| {
        name.and_then(|n| map.get(n)).is_some_and(|(at, _)| *at > stamp)
    };
    !after(&changed.users, user) && !after(&changed.namespaces, namespace)
}

/// Makes every cached entry stale.
pub fn invalidate() {
    apply(&Effect::Everything);
}

/// Makes the entries a change touched stale.
pub fn apply(effect: &Effect) {
    let at = TICK.fetch_add(1, Ordering::AcqRel) + 1;
    let now = Instant::now();
    let note = |map: &mut HashMap<String, (u64, Instant)>, name: &str| {
        if map.len() >= REMEMBERED_MAX {
            map.retain(|_, (_, when)| now.duration_since(*when) < REMEMBERED);
        }
        if map.len() >= REMEMBERED_MAX {
            map.clear();
            ALL.fetch_max(at, Ordering::AcqRel);
        }
        map.insert(name.to_string(), (at, now));
    };
    match effect {
        Effect::Nothing => {}
        Effect::Everything => {
            ALL.fetch_max(at, Ordering::AcqRel);
        }
        Effect::User(name) => {
            let mut changed = CHANGED.write().unwrap_or_else(|e| e.into_inner());
            note(&mut changed.users, name);
            note(&mut changed.namespaces, name);
        }
        Effect::Namespace(name) => {
            let mut changed = CHANGED.write().unwrap_or_else(|e| e.into_inner());
            note(&mut changed.namespaces, name);
        }
    }
}

/// How long the listener waits for a notification before it checks that its connection
/// still answers (a half-open connection would otherwise go unnoticed).
const PING_EVERY: Duration = Duration::from_secs(5);

/// How many times the listener has (re)connected: for tests and the logs.
static CONNECTS: AtomicU64 = AtomicU64::new(0);

pub fn listener_connects() -> u64 {
    CONNECTS.load(Ordering::Acquire)
}

/// Listens for changes made by any replica, for as long as the pool is open. Every way the
/// listener can miss a notification drops the caches: a lost connection (seen by `try_recv`,
/// which, unlike `recv`, reports it instead of reconnecting silently), and a connection that
/// stopped answering (a ping every few quiet seconds, with a timeout).
pub fn spawn_listener(db: PgPool) {
    tokio::spawn(async move {
        while !db.is_closed() {
            match sqlx::postgres::PgListener::connect_with(&db).await {
                Ok(mut listener) => {
                    if listener.listen(CHANNEL).await.is_ok() {
                        CONNECTS.fetch_add(1, Ordering::AcqRel);
                        // Whatever happened before this connection listened is unknown.
                        invalidate();
                        listen(&mut listener).await;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "change listener cannot connect; retrying"),
            }
            // Connection lost: whatever happened meanwhile is unknown, so forget everything.
            invalidate();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

/// Applies every notification until the connection is lost or stops answering.
async fn listen(listener: &mut sqlx::postgres::PgListener) {
    loop {
        match tokio::time::timeout(PING_EVERY, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => apply(&Effect::decode(notification.payload())),
            // `None`: the connection was lost (it would reconnect on the next call, silently).
            Ok(Ok(None)) | Ok(Err(_)) => return,
            Err(_quiet) => {
                let ping = sqlx::query_scalar::<_, i32>("select 1").fetch_one(&mut *listener);
                if !matches!(tokio::time::timeout(PING_EVERY, ping).await, Ok(Ok(1))) {
                    tracing::warn!("change listener stopped answering; reconnecting");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_effect_reads_back_and_an_unreadable_one_is_everything() {
        for e in [Effect::Nothing, Effect::User("alice".into()), Effect::Namespace("team-a".into()), Effect::Everything]
        {
            assert_eq!(Effect::decode(&e.encode()), e);
        }
        for old in ["user.disable", "", "user:", "namespace:", "surprise:x"] {
            assert_eq!(Effect::decode(old), Effect::Everything, "{old:?}");
        }
    }

    #[test]
    fn a_change_ends_only_what_it_touched() {
        // Names of their own: other tests of this process change the shared state too.
        let before = stamp();
        assert!(fresh(before, Some("cache-alice"), Some("cache-ns")));
        apply(&Effect::Namespace("cache-ns".into()));
        assert!(!fresh(before, None, Some("cache-ns")), "the namespace changed");
        assert!(fresh(before, Some("cache-alice"), Some("cache-other")), "nothing else did");
        let after = stamp();
        assert!(fresh(after, None, Some("cache-ns")), "an entry looked up since is fresh");
        apply(&Effect::User("cache-alice".into()));
        assert!(!fresh(after, Some("cache-alice"), None));
        assert!(!fresh(after, None, Some("cache-alice")), "and their personal namespace");
        assert!(fresh(after, Some("cache-bob"), Some("cache-ns")));
        apply(&Effect::Nothing);
        assert!(fresh(after, Some("cache-bob"), None));
        invalidate();
        assert!(!fresh(after, Some("cache-bob"), None), "everything changed");
        assert!(fresh(stamp(), Some("cache-alice"), Some("cache-ns")));
    }
}
