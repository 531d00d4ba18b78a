//! The token endpoint's memory: principals by credential (a password remembered under a keyed
//! hash, never itself) and namespace facts, bounded, dropped when anything changes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;

use crate::backend::access::principal::Principal;
use crate::grant::Known;

/// What the token service remembers between requests, so that a repeated credential costs
/// no argon2 and few queries: principals by credential (a keyed HMAC of username and
/// password, or the SHA-256 of a token) and namespace facts by user. An entry is dropped when
/// what it depends on changed after its stamp (its user, its namespace, or everything: see
/// `cache`), and after a time anyway.
pub struct AuthCache {
    pub(super) key: [u8; 32],
    pub(super) principals: Mutex<HashMap<[u8; 32], Remembered>>,
    pub(super) facts: Mutex<HashMap<(i64, String), Facts>>,
    pub(super) password_ttl: Duration,
    /// The reads that confirm remembered passwords, made together.
    pub(super) rechecks: super::recheck::Rechecks,
}

/// A credential's principal, as of a cache stamp.
#[derive(Clone)]
pub(super) struct Remembered {
    pub(super) principal: Principal,
    pub(super) stamp: u64,
    pub(super) until: Instant,
    pub(super) touched: Instant,
}

#[derive(Clone, Copy)]
pub(super) struct Facts {
    pub(super) known: Known,
    pub(super) stamp: u64,
    pub(super) until: Instant,
}

/// Entries per map; past it, stale entries go first.
pub(super) const CACHE_MAX: usize = 100_000;
/// How long any entry may live, however quiet the change channel.
pub(super) const BACKSTOP: Duration = Duration::from_secs(60);

/// Makes room for one more entry: entries stale or past their time go first,
/// and only if that is not enough (the map holds that many live entries) everything goes.
pub(super) fn make_room<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, live: impl Fn(&V) -> bool) {
    if map.len() >= CACHE_MAX {
        map.retain(|_, v| live(v));
    }
    if map.len() >= CACHE_MAX {
        map.clear();
    }
}

impl AuthCache {
    pub fn new(password_ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self {
            key,
            principals: Mutex::new(HashMap::new()),
            facts: Mutex::new(HashMap::new()),
            password_ttl,
            rechecks: Default::default(),
        }
    }

    /// The slot of a username and password: an HMAC under a key only this process knows.
    pub(super) fn password_slot(&self, username: &str, password: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(username.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    pub(super) fn token_slot(kind: &str, secret: &str) -> [u8; 32] {
        let mut h = <Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut h, kind.as_bytes());
        sha2::Digest::update(&mut h, [0]);
        sha2::Digest::update(&mut h, secret.as_bytes());
        sha2::Digest::finalize(h).into()
    }

    pub(super) fn principal(&self, slot: &[u8; 32]) -> Option<Principal> {
        let now = Instant::now();
        let found = {
            let entries = self.principals.lock().expect("auth cache lock");
            entries
                .get(slot)
                .filter(|r| r.until > now && r.fresh())
                .filter(|r| r.principal.token.as_ref().and_then(|t| t.expires_at).is_none_or(|e| e > Utc::now()))
                .map(|r| r.principal.clone())
        };
        count_lookup("principal", found.is_some());
        found
    }

    pub(super) fn forget(&self, slot: &[u8; 32]) {
        self.principals.lock().expect("auth cache lock").remove(slot);
    }

    /// Remembers what a credential stood for, as of `stamp` (read before the lookup).
    pub(super) fn remember(&self, slot: [u8; 32], principal: Principal, ttl: Duration, stamp: u64) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.principals.lock().expect("auth cache lock");
        let now = Instant::now();
        make_room(&mut entries, |r| r.until > now && r.fresh());
        entries.insert(slot, Remembered { principal, stamp, until: now + ttl, touched: now });
    }

    /// Whether an access token's last use should be written again (at most once a minute).
    pub(super) fn needs_touch(&self, slot: &[u8; 32]) -> bool {
        let mut entries = self.principals.lock().expect("auth cache lock");
        match entries.get_mut(slot) {
            Some(r) if r.touched.elapsed() > Duration::from_secs(60) => {
                r.touched = Instant::now();
                true
            }
            _ => false,
        }
    }
}

impl Remembered {
    /// Whether nothing its user depends on changed since it was looked up.
    fn fresh(&self) -> bool {
        crate::backend::registry::cache::fresh(
            self.stamp,
            self.principal.user.as_ref().map(|u| u.username.as_str()),
            None,
        )
    }
}

/// Counts a cache lookup on the metrics page.
pub(super) fn count_lookup(cache: &'static str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!("portcullis_auth_cache_lookups_total", "cache" => cache, "result" => result).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_drops_stale_entries_before_live_ones() {
        let mut map: HashMap<u32, bool> = (0..CACHE_MAX as u32).map(|i| (i, i % 2 == 0)).collect();
        make_room(&mut map, |live| *live);
        assert_eq!(map.len(), CACHE_MAX / 2, "only the stale half went");
        assert!(map.values().all(|live| *live));
        let mut full: HashMap<u32, bool> = (0..CACHE_MAX as u32).map(|i| (i, true)).collect();
        make_room(&mut full, |live| *live);
        assert!(full.is_empty(), "a cache full of live entries starts over");
    }
}
