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
pub mod tag_rules;
pub mod teams;
pub mod tokens;
pub mod webhooks;

/// The answers of the server functions (and their errors): JSON, as `server_fn`'s own `Json`,
/// but read in the browser from text, as a resource's data embedded in the page is. With
/// `Json` (which reads bytes) each type the pages show was decoded by two copies of its
/// decoder, one per reader, in the page's code.
pub struct JsonText;

/// A server function's answer as [`JsonText`]: `#[server(output = Json)]` with this `Json`.
pub type Json = leptos::server_fn::codec::Post<JsonText>;

impl leptos::server_fn::ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl leptos::server_fn::FormatType for JsonText {
    const FORMAT_TYPE: leptos::server_fn::Format = leptos::server_fn::Format::Text;
}

impl<T: serde::Serialize> leptos::server_fn::Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<leptos::server_fn::Bytes, Self::Error> {
        serde_json::to_vec(output).map(Into::into)
    }
}

impl<T: serde::de::DeserializeOwned> leptos::server_fn::Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: leptos::server_fn::Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(|e| serde::de::Error::custom(e.to_string()))?;
        serde_json::from_str(text)
    }
}

/// Where to send someone after they sign in: `next` when it is a path on this site, `/`
/// otherwise. Accepted only as an absolute path (one `/`, never `//host` nor `/\\host`), with no
/// control character (browsers drop tabs and newlines from URLs, so `/\t/evil.example` would
/// become `//evil.example`) and no backslash anywhere (browsers read one as `/`), that still
/// names this site once parsed against `public_url`. The answer is the parsed path, query and
/// fragment as the URL parser writes them, so it is always a valid `Location` header.
#[cfg(feature = "ssr")]
pub fn safe_next(public_url: &str, next: Option<&str>) -> String {
    let home = "/".to_string();
    let Some(next) = next.filter(|n| n.len() <= 2048) else { return home };
    if !next.starts_with('/') || next.starts_with("//") || next.chars().any(|c| c.is_control() || c == '\\') {
        return home;
    }
    let Ok(base) = url::Url::parse(public_url).or_else(|_| url::Url::parse("http://127.0.0.1/")) else { return home };
    match base.join(next) {
        Ok(url) if url.origin() == base.origin() && url.username().is_empty() && url.password().is_none() => {
            url[url::Position::BeforePath..].to_string()
        }
        _ => home,
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::safe_next;
    use proptest::prelude::*;

    const SITE: &str = "https://portcullis.example";

    #[test]
    fn next_stays_on_this_site() {
        let next = |n: &str| safe_next(SITE, Some(n));
        assert_eq!(next("/namespaces"), "/namespaces");
        assert_eq!(next("/repositories/acme/app?page=2#tags"), "/repositories/acme/app?page=2#tags");
        assert_eq!(next("//evil.example/"), "/");
        assert_eq!(next("/\\evil.example"), "/");
        assert_eq!(next("https://evil.example/"), "/");
        assert_eq!(next("/\t/evil.example"), "/");
        assert_eq!(next("/\n"), "/");
        assert_eq!(next("/a\\b"), "/");
        assert_eq!(next("/\r\n/evil.example"), "/");
        assert_eq!(next("/x\u{7f}"), "/");
        assert_eq!(next("javascript:alert(1)"), "/");
        assert_eq!(next(""), "/");
        assert_eq!(safe_next(SITE, None), "/");
    }

    /// Whether a browser, following `Location: to` from `SITE`, stays on `SITE`.
    fn stays(to: &str) -> bool {
        // What a browser does first: drop tabs and newlines, read `\` as `/`.
        let cleaned: String = to.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
        let cleaned = cleaned.replace('\\', "/");
        let base = url::Url::parse(SITE).unwrap();
        base.join(&cleaned).is_ok_and(|u| u.origin() == base.origin())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
        /// Whatever is asked for, the answer is a header value and keeps the browser here.
        #[test]
        fn any_next_is_a_path_here(next in "[/\\\\\t\n\r %0-9a-zA-Z.:@?#&=\u{0}-\u{1f}\u{7f}\u{85}\u{2028}]{0,24}") {
            let to = safe_next(SITE, Some(&next));
            prop_assert!(to.starts_with('/') && !to.starts_with("//"), "{next:?} -> {to:?}");
            prop_assert!(axum::http::HeaderValue::from_str(&to).is_ok(), "{next:?} -> {to:?}");
            prop_assert!(stays(&to), "{next:?} -> {to:?}");
        }

        /// A plain path comes through as it was.
        #[test]
        fn plain_paths_pass(path in "(/[a-z0-9_-][a-z0-9._-]{0,11}){1,4}") {
            prop_assert_eq!(safe_next(SITE, Some(&path)), path);
        }
    }
}
