//! The Docker token scope grammar (distribution/docs/spec/auth/scope.md):
//!
//! ```text
//! scope        := resourcetype ":" resourcename ":" action [ "," action ]*
//! resourcetype := /[a-z0-9]+/ [ "(" resourceclass ")" ]
//! resourcename := [ hostname "/" ] component [ "/" component ]*
//! hostname     := hostcomponent [ "." hostcomponent ]* [ ":" port-number ]
//! action       := /[a-z]*/ | "*"
//! ```
//!
//! A request may carry several scopes (repeated `scope` parameters, or space-separated in a
//! POST). Parsing is forgiving in the way the spec asks: a scope of an unknown type, with an
//! unknown action or a malformed name is dropped (and so granted nothing), never an error for
//! the whole request. Pure code, shared with the browser.

use serde::{Deserialize, Serialize};

/// What a scope may ask to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Pull, Action::Push, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
}

/// One resource asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resource {
    /// `repository:<name>:<actions>`
    Repository { name: String, actions: Vec<Action> },
    /// `registry:catalog:*`
    Catalog,
}

/// Longest repository name the registry accepts.
pub const MAX_NAME_LEN: usize = 255;

/// Whether a manifest reference is a tag as the registry's grammar has it: `[\w][\w.-]{0,127}`.
pub fn is_tag(reference: &str) -> bool {
    let b = reference.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// Whether a manifest reference is a digest: `sha256:` and 64 lower-case hex digits, or `sha512:` and 128.
pub fn is_digest(reference: &str) -> bool {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    match reference.split_once(':') {
        Some(("sha256", h)) => hex(h, 64),
        Some(("sha512", h)) => hex(h, 128),
        _ => false,
    }
}

/// A repository path component, as the registry's reference grammar defines it:
/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`.
pub fn is_repository_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or any number of "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A registry host in front of a name (`10.0.0.1:5000`, `localhost:5000`,
/// `Registry.Example.com`): letters, digits, `-`, `.` and an optional `:port`, and not a
/// valid path component. The grammar is ambiguous for a lowercase dotted first part
/// (`john.doe/app`): the registry itself reads that as a path whose first component is the
/// namespace, so that is how it is read here too. Reading it as a host would judge the
/// request against another namespace than the one the registry enforces.
fn is_hostname(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if port.is_some_and(|p| p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit())) {
        return false;
    }
    let labels_ok = !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    labels_ok && (host.contains('.') || port.is_some() || host == "localhost") && !is_repository_component(s)
}

/// A repository name split into its optional registry host and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryName<'a> {
    pub host: Option<&'a str>,
    /// The path: `alice/hello`, or `hello` for the global namespace.
    pub path: &'a str,
}

impl<'a> RepositoryName<'a> {
    /// Parses and validates a name; `None` if it breaks the grammar.
    pub fn parse(name: &'a str) -> Option<Self> {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return None;
        }
        let (host, path) = match name.split_once('/') {
            Some((first, rest)) if is_hostname(first) => (Some(first), rest),
            _ => (None, name),
        };
        if path.split('/').all(is_repository_component) {
            Some(Self { host, path })
        } else {
            None
        }
    }

    /// The namespace: the first path component, or `None` for the global namespace.
    pub fn namespace(&self) -> Option<&'a str> {
        self.path.split_once('/').map(|(ns, _)| ns)
    }
}

/// Parses one scope. `None` when it asks for nothing we grant (unknown type, unknown or no
/// actions, malformed name): such a scope is simply dropped.
pub fn parse_scope(scope: &str) -> Option<Resource> {
    let (kind, rest) = scope.split_once(':')?;
    // `repository(plugin)`: the resource class is accepted and ignored.
    let kind = match kind.split_once('(') {
        Some((k, class)) if class.ends_with(')') && class.len() > 1 => k,
        Some(_) => return None,
        None => kind,
    };
    // The name may itself contain a `:` (registry host with a port), so the actions are
    // after the last one.
    let (name, actions) = rest.rsplit_once(':')?;
    match kind {
        "repository" => {
            RepositoryName::parse(name)?;
            let mut acts: Vec<Action> = Vec::new();
            for a in actions.split(',') {
                match a {
                    "pull" => acts.push(Action::Pull),
                    "push" => acts.push(Action::Push),
                    "delete" => acts.push(Action::Delete),
                    "*" => acts.extend(Action::ALL),
                    _ => {} // unknown actions are dropped
                }
            }
            acts.sort();
            acts.dedup();
            if acts.is_empty() {
                return None;
            }
            Some(Resource::Repository { name: name.to_string(), actions: acts })
        }
        "registry" if name == "catalog" && actions.split(',').any(|a| a == "*") => Some(Resource::Catalog),
        _ => None,
    }
}

/// The most scopes one token request may carry. Real clients send one or two (a blob mount
/// names two repositories); more is a malformed request, refused before any work is done.
pub const MAX_SCOPES: usize = 64;

/// A request carried more than [`MAX_SCOPES`] scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooManyScopes(pub usize);

impl std::fmt::Display for TooManyScopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at most {} scopes may be asked for at once", self.0)
    }
}

/// Parses every scope of a request: each value may hold several, separated by spaces.
/// Requests for the same repository are merged. Linear in the input: each scope is looked at
/// once, and more than `max` (well-formed or not) refuse the whole request.
pub fn parse_scopes<'a>(values: impl IntoIterator<Item = &'a str>, max: usize) -> Result<Vec<Resource>, TooManyScopes> {
    let mut out: Vec<Resource> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut seen = 0;
    for scope in values.into_iter().flat_map(|v| v.split(' ')).filter(|s| !s.is_empty()) {
        seen += 1;
        if seen > max {
            return Err(TooManyScopes(max));
        }
        let Some(r) = parse_scope(scope) else { continue };
        match r {
            Resource::Repository { name, actions } => match index.get(&name) {
                Some(&i) => {
                    if let Resource::Repository { actions: existing, .. } = &mut out[i] {
                        existing.extend(actions);
                        existing.sort();
                        existing.dedup();
                    }
                }
                None => {
                    index.insert(name.clone(), out.len());
                    out.push(Resource::Repository { name, actions });
                }
            },
            Resource::Catalog => {
                if !out.contains(&Resource::Catalog) {
                    out.push(Resource::Catalog);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str, actions: &[Action]) -> Option<Resource> {
        Some(Resource::Repository { name: name.into(), actions: actions.to_vec() })
    }

    #[test]
    fn the_spec_examples_parse() {
        use Action::*;
        assert_eq!(parse_scope("repository:samalba/my-app:pull,push"), repo("samalba/my-app", &[Pull, Push]));
        assert_eq!(parse_scope("repository:alice/hello:pull"), repo("alice/hello", &[Pull]));
        assert_eq!(parse_scope("repository:hello:push,pull"), repo("hello", &[Pull, Push]));
        assert_eq!(parse_scope("repository:alice/copy:*"), repo("alice/copy", &[Pull, Push, Delete]));
        assert_eq!(parse_scope("registry:catalog:*"), Some(Resource::Catalog));
    }

    #[test]
    fn names_may_carry_a_registry_host_with_a_port() {
        use Action::*;
        assert_eq!(
            parse_scope("repository:127.0.0.1:5000/alice/hello:pull"),
            repo("127.0.0.1:5000/alice/hello", &[Pull])
        );
        assert_eq!(parse_scope("repository:localhost:5000/x:push"), repo("localhost:5000/x", &[Push]));
        assert_eq!(
            parse_scope("repository:registry.example.com/team/app:pull"),
            repo("registry.example.com/team/app", &[Pull])
        );
        // A lowercase dotted first part is a namespace, as the registry reads it.
        for name in ["john.doe/app", "localhost/app", "registry.example.com/team/app"] {
            let n = RepositoryName::parse(name).unwrap();
            assert_eq!((n.host, n.path), (None, name), "{name}");
        }
        assert_eq!(RepositoryName::parse("john.doe/app").unwrap().namespace(), Some("john.doe"));
        let n = RepositoryName::parse("Registry.Example.com/team/app").unwrap();
        assert_eq!((n.host, n.namespace()), (Some("Registry.Example.com"), Some("team")));
        let n = RepositoryName::parse("127.0.0.1:5000/alice/hello").unwrap();
        assert_eq!((n.host, n.path, n.namespace()), (Some("127.0.0.1:5000"), "alice/hello", Some("alice")));
        let n = RepositoryName::parse("alice/hello").unwrap();
        assert_eq!((n.host, n.namespace()), (None, Some("alice")));
        assert_eq!(RepositoryName::parse("hello").unwrap().namespace(), None);
    }

    #[test]
    fn a_resource_class_is_accepted_and_ignored() {
        assert_eq!(parse_scope("repository(plugin):vieux/sshfs:pull"), repo("vieux/sshfs", &[Action::Pull]));
        assert_eq!(parse_scope("repository(:vieux/sshfs:pull"), None);
        assert_eq!(parse_scope("repository():vieux/sshfs:pull"), None);
    }

    #[test]
    fn unknown_types_and_actions_are_dropped() {
        assert_eq!(parse_scope("repository:alice/hello:pull,fly"), repo("alice/hello", &[Action::Pull]));
        assert_eq!(parse_scope("repository:alice/hello:fly"), None);
        assert_eq!(parse_scope("repository:alice/hello:"), None);
        assert_eq!(parse_scope("registry:catalog:pull"), None);
        assert_eq!(parse_scope("registry:other:*"), None);
        assert_eq!(parse_scope("plugin:foo:pull"), None);
        assert_eq!(parse_scope("repository:alice/hello"), None, "no actions part at all");
        assert_eq!(parse_scope("garbage"), None);
        assert_eq!(parse_scope(""), None);
    }

    #[test]
    fn malformed_names_are_dropped() {
        for bad in ["Alice/hello", "alice//hello", "/alice", "alice/", "alice/hel lo", "alice/-x", "a/b..c", "a/b___c"]
        {
            assert_eq!(parse_scope(&format!("repository:{bad}:pull")), None, "{bad}");
        }
        assert_eq!(parse_scope(&format!("repository:a/{}:pull", "b".repeat(300))), None);
        assert!(parse_scope("repository:a/b__c:pull").is_some());
        assert!(parse_scope("repository:a/b---c:pull").is_some());
    }

    #[test]
    fn several_scopes_merge_per_repository() {
        use Action::*;
        let got = parse_scopes(
            ["repository:alice/copy:pull,push repository:alice/hello:pull", "repository:alice/copy:delete"],
            MAX_SCOPES,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                Resource::Repository { name: "alice/copy".into(), actions: vec![Pull, Push, Delete] },
                Resource::Repository { name: "alice/hello".into(), actions: vec![Pull] },
            ]
        );
        assert_eq!(
            parse_scopes(["registry:catalog:* registry:catalog:*"], MAX_SCOPES).unwrap(),
            vec![Resource::Catalog]
        );
    }

    #[test]
    fn more_than_the_maximum_of_scopes_is_refused() {
        let many: Vec<String> = (0..65).map(|i| format!("repository:a/r{i}:pull")).collect();
        assert_eq!(parse_scopes(many.iter().map(String::as_str), MAX_SCOPES), Err(TooManyScopes(MAX_SCOPES)));
        assert_eq!(parse_scopes(many[..64].iter().map(String::as_str), MAX_SCOPES).unwrap().len(), 64);
        let one_value = many.join(" ");
        assert!(parse_scopes([one_value.as_str()], MAX_SCOPES).is_err(), "space-separated scopes count too");
        let junk = "x ".repeat(100);
        assert!(parse_scopes([junk.as_str()], MAX_SCOPES).is_err(), "malformed scopes count too");
    }

    /// Fuzz-style: random input, including every special character, never panics, and
    /// whatever is accepted is well-formed.
    #[test]
    fn random_input_never_panics() {
        let alphabet: Vec<char> = "aZ09:/,.-_()* é\u{0}repositoryregistrycatalogpullpushdelete".chars().collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50_000 {
            let len = (next() % 60) as usize;
            let s: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            let candidates =
                [s.clone(), format!("repository:{s}"), format!("repository:a/{s}:pull"), format!("{s}:pull")];
            for c in &candidates {
                if let Some(Resource::Repository { name, actions }) = parse_scope(c) {
                    assert!(RepositoryName::parse(&name).is_some(), "{c:?}");
                    assert!(!actions.is_empty());
                }
            }
            let _ = parse_scopes(candidates.iter().map(String::as_str), MAX_SCOPES);
        }
    }
}

/// Property tests: whatever a client sends, parsing neither panics nor accepts something
/// malformed, and costs time in proportion to the input.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn any_text_parses_without_panic(values in proptest::collection::vec(".{0,300}", 0..8)) {
            if let Ok(resources) = parse_scopes(values.iter().map(String::as_str), MAX_SCOPES) {
                for r in resources {
                    if let Resource::Repository { name, actions } = r {
                        prop_assert!(RepositoryName::parse(&name).is_some());
                        prop_assert!(!actions.is_empty());
                    }
                }
            }
        }

        #[test]
        fn scope_shaped_text_parses_without_panic(
            kind in "(repository|registry|plugin)(\\([a-z]{0,5}\\)?)?",
            name in "[a-zA-Z0-9._:/-]{0,80}",
            actions in "[a-z*,]{0,30}",
        ) {
            let scope = format!("{kind}:{name}:{actions}");
            if let Some(Resource::Repository { name, .. }) = parse_scope(&scope) {
                prop_assert!(RepositoryName::parse(&name).is_some());
            }
        }
    }

    #[test]
    fn a_huge_request_is_refused_quickly() {
        // A megabyte of scopes (the body limit) is counted, not parsed and merged.
        let many = "repository:a/b:pull ".repeat(50_000);
        let started = std::time::Instant::now();
        assert!(parse_scopes([many.as_str()], MAX_SCOPES).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
