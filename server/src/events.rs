//! The registry's notifications (`POST /v2/webhooks/events`): read within their own limit,
//! stored durably by [`app::backend::images::events`], acknowledged.

use app::backend::AppState;
use axum::{
    body::Body,
    extract::{DefaultBodyLimit, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Router,
};

use crate::token::error;

pub fn router(state: AppState) -> Router {
    Router::new()
        // The inbox reads its body itself, within its own limit.
        .route("/v2/webhooks/events", axum::routing::post(events_inbox).layer(DefaultBodyLimit::disable()))
        .with_state(state)
}

/// The largest envelope the inbox reads. Distribution refuses manifests over 4 MiB, and an
/// envelope lists a manifest's descriptors (with their annotations) JSON-escaped, which can
/// grow a text six-fold; a bigger body is recorded as skipped, never refused.
pub const INBOX_LIMIT: usize = 32 * 1024 * 1024;

/// Reads a body up to `limit` bytes; a longer one is read to its end (so that the sender sees
/// its request answered) but only its first `limit` bytes are kept, and `false` says so.
async fn read_body(body: Body, limit: usize) -> Result<(Vec<u8>, bool), axum::Error> {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut kept = Vec::new();
    let mut whole = true;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let room = limit.saturating_sub(kept.len());
            if data.len() > room {
                whole = false;
            }
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Ok((kept, whole))
}

/// `POST /v2/webhooks/events`: the registry's notifications. The shared secret is required;
/// events are stored durably (de-duplicated on their id) before the answer, applied
/// afterwards. With the right secret, every body gets a 2xx: what cannot be used is recorded
/// as skipped with the reason, since a refusal would make the registry resend it forever and
/// hold every later event behind it. Only an unreachable database is a 503 (resend later).
async fn events_inbox(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let expected = format!("Bearer {}", state.events_secret);
    let given = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    if !constant_time_eq(given, expected.as_bytes()) {
        tracing::warn!(target: "portcullis::events", "notification without the shared secret refused");
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "the notification secret is missing or wrong");
    }
    let unavailable = || error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "could not be recorded; resend later");
    let (body, whole) = match read_body(body, INBOX_LIMIT).await {
        Ok(b) => b,
        // The connection broke: the registry did not get an answer either, and resends.
        Err(_) => return unavailable(),
    };
    let parsed = if whole {
        app::backend::images::events::parse_envelope(&body)
    } else {
        Err(format!("an envelope over {} MiB", INBOX_LIMIT >> 20))
    };
    let events = match parsed {
        Ok(e) => e,
        Err(why) => {
            tracing::warn!(target: "portcullis::events", %why, "unreadable notification recorded and acknowledged");
            metrics::counter!("portcullis_events_unreadable_total").increment(1);
            return match app::backend::images::events::record_unreadable(&state, &body, &why).await {
                Ok(()) => StatusCode::ACCEPTED.into_response(),
                Err(_) => unavailable(),
            };
        }
    };
    match app::backend::images::events::store(&state, &events).await {
        Ok(_) => {
            metrics::counter!("portcullis_events_received_total").increment(events.len() as u64);
            StatusCode::OK.into_response()
        }
        Err(_) => unavailable(),
    }
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}
