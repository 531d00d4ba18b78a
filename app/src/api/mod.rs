//! Server functions, grouped by area. Each is a thin adapter: it reads the state and the
//! session, calls `crate::backend`, and answers through `backend::form::respond` when it
//! serves a form.

pub mod account;
pub mod admin;
pub mod cleanup;
pub mod dashboard;
#[cfg(feature = "ssr")]
pub mod form;
pub mod images;
pub mod namespaces;
pub mod teams;
pub mod tokens;
pub mod webhooks;

/// Keeps a post-login redirect on this site: only absolute paths, never `//host`.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n,
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/namespaces")), "/namespaces");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
