//! A refused plain form post goes back to its page without `?__err=…` in the address and with
//! what was typed still in the form.
//!
//! A server function called by a plain `<form>` (no JavaScript, or a form that reloads the
//! page on purpose, as sign-in does) answers a refusal with a redirect to the page it came
//! from, the error encoded in the address (leptos's `ServerFnUrlError`). That address is what
//! the user then sees and shares, and the form on it comes back empty. Here the error and the
//! form's values (never a password or secret: [`FormFlash::keeps`]) move into the session as a
//! [`FormFlash`], the address is cleaned, and the next page load takes the flash out of the
//! session for the page to render (`app::ui::App` reads it from the request).

use app::model::FormFlash;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tower_sessions::Session;

/// The most of a form that is kept: fields, and characters per field.
const MAX_FIELDS: usize = 64;
const MAX_FIELD_CHARS: usize = 4096;
/// A form body larger than this is passed on without keeping its values.
const MAX_BODY: usize = 256 * 1024;

fn header_has(req: &Request, name: header::HeaderName, part: &str) -> bool {
    req.headers().get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(part))
}

pub async fn carry(session: Session, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let page_load = req.method() == Method::GET && header_has(&req, header::ACCEPT, "text/html");
    let form_post = req.method() == Method::POST
        && path.starts_with("/api/")
        && !path.starts_with("/api/v1/")
        && header_has(&req, header::ACCEPT, "text/html")
        && header_has(&req, header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if page_load {
        // Only a session that already exists is looked at: a visitor without one has no flash.
        if let Ok(Some(flash)) = session.remove::<FormFlash>(FormFlash::KEY).await {
            req.extensions_mut().insert(flash);
        }
        return next.run(req).await;
    }
    if !form_post {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return Response::builder().status(413).body("The form is too large.".into()).unwrap_or_default();
    };
    let fields: Vec<(String, String)> = form_urlencoded::parse(&bytes)
        .filter(|(k, _)| FormFlash::keeps(k))
        .take(MAX_FIELDS)
        .map(|(k, v)| (k.into_owned(), v.chars().take(MAX_FIELD_CHARS).collect()))
        .collect();
    let mut res = next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await;
    let Some((clean, error, fn_path)) =
        res.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()).and_then(split_error)
    else {
        return res;
    };
    let flash = FormFlash { path: fn_path, error, fields };
    if session.insert(FormFlash::KEY, flash).await.is_err() {
        // Without the session the address keeps the error: the page still shows it.
        return res;
    }
    // A session made only to carry this lives briefly.
    let _ = app::backend::access::session::keep_briefly_unless_signed_in(&session).await;
    if let Ok(v) = HeaderValue::from_str(&clean) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Splits a redirect address into the address without `__err` and `__path`, the error and
/// the server function's path; `None` when it carries no error.
fn split_error(location: &str) -> Option<(String, String, String)> {
    let (base, query) = location.split_once('?')?;
    let (mut error, mut path) = (None, None);
    let mut rest = form_urlencoded::Serializer::new(String::new());
    let mut kept = 0;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "__err" => error = Some(v.into_owned()),
            "__path" => path = Some(v.into_owned()),
            _ => {
                rest.append_pair(&k, &v);
                kept += 1;
            }
        }
    }
    let clean = if kept == 0 { base.to_string() } else { format!("{base}?{}", rest.finish()) };
    Some((clean, error?, path?))
}

#[cfg(test)]
mod tests {
    use super::split_error;

    #[test]
    fn the_error_leaves_the_address_and_the_rest_stays() {
        let (clean, err, path) =
            split_error("http://h/login?next=%2Faccount&__path=%2Fapi%2Flogin&__err=eyJ9").unwrap();
        assert_eq!(
            (clean.as_str(), err.as_str(), path.as_str()),
            ("http://h/login?next=%2Faccount", "eyJ9", "/api/login")
        );
        let (clean, ..) = split_error("/signup?__path=%2Fapi%2Fsignup&__err=e30").unwrap();
        assert_eq!(clean, "/signup");
        assert!(split_error("/login?next=%2F").is_none());
        assert!(split_error("/login").is_none());
    }
}
