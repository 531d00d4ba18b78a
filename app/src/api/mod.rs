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
