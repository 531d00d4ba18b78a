//! Cross-site request forgery protection for every state-changing request.
//!
//! Session cookies are `SameSite=Lax`, so browsers already leave them off cross-site POSTs.
//! On top of that, a request that changes state is refused when the browser says it came from
//! another site: by `Sec-Fetch-Site` (every current browser sends it), or failing that by an
//! `Origin` that is neither `public_url`'s nor this host's (a TLS proxy in front may pass on
//! another `Host`). Requests without either header come from non-browser clients (docker,
//! curl, CI), which carry no ambient credentials to forge with.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The middleware; its state is the public origin (`Config::public_origin`).
pub async fn same_origin_only(State(public): State<Arc<String>>, req: Request, next: Next) -> Response {
    if is_safe_method(req.method()) || is_cross_site_allowed(req.uri().path()) || is_same_origin(req.headers(), &public)
    {
        return next.run(req).await;
    }
    tracing::warn!(target: "portcullis::csrf", method = %req.method(), path = req.uri().path(), "cross-site request refused");
    (StatusCode::FORBIDDEN, "cross-site request refused").into_response()
}

fn is_safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Registry-facing endpoints are called by the registry and its clients, never with cookies.
fn is_cross_site_allowed(path: &str) -> bool {
    path.starts_with("/v2/")
}

fn is_same_origin(headers: &HeaderMap, public: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) if origin == public => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            origin_host.is_some() && origin_host == host
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const PUBLIC: &str = "https://registry.example.com";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn fetch_metadata_decides_first() {
        assert!(is_same_origin(&headers(&[("sec-fetch-site", "same-origin")]), PUBLIC));
        assert!(is_same_origin(&headers(&[("sec-fetch-site", "none")]), PUBLIC));
        assert!(!is_same_origin(&headers(&[("sec-fetch-site", "cross-site")]), PUBLIC));
        assert!(!is_same_origin(
            &headers(&[("sec-fetch-site", "same-site"), ("origin", "http://a:3000"), ("host", "a:3000")]),
            PUBLIC
        ));
    }

    #[test]
    fn origin_must_match_host() {
        assert!(is_same_origin(&headers(&[("origin", "http://127.0.0.1:3000"), ("host", "127.0.0.1:3000")]), PUBLIC));
        assert!(!is_same_origin(&headers(&[("origin", "http://evil.example"), ("host", "127.0.0.1:3000")]), PUBLIC));
        assert!(!is_same_origin(&headers(&[("origin", "null"), ("host", "127.0.0.1:3000")]), PUBLIC));
    }

    #[test]
    fn the_public_origin_passes_whatever_host_the_proxy_passes_on() {
        let behind_proxy = |origin| headers(&[("origin", origin), ("host", "portcullis:3000")]);
        assert!(is_same_origin(&behind_proxy("https://registry.example.com"), PUBLIC));
        assert!(!is_same_origin(&behind_proxy("http://registry.example.com"), PUBLIC));
        assert!(!is_same_origin(&behind_proxy("https://registry.example.com.evil.example"), PUBLIC));
    }

    #[test]
    fn non_browser_clients_pass() {
        assert!(is_same_origin(&HeaderMap::new(), PUBLIC));
    }
}
