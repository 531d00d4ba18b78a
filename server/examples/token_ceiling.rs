//! The fair ceiling of the token endpoint: a minimal axum server that parses one key once and
//! signs one ES256 JWT per request, with the same signer, header and claims shape as the real
//! endpoint, and nothing else (no database, no cache, no layers). `token-bench.sh` loads it with
//! the same wrk settings as the endpoint, in the same run, so the endpoint's figures are read
//! against it and not against an assumed number.
//!   cargo run --release -p server --example token_ceiling [addr]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use app::backend::registry::keys::{KeyAlgorithm, Signer};
use axum::{extract::State, routing::get, Json, Router};
use rand::RngCore;

/// The server's allocator, so that the two differ only in what the endpoint does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn token(State(signer): State<Arc<Signer>>) -> Json<serde_json::Value> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let mut jti = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut jti);
    let claims = serde_json::json!({
        "iss": "portcullis", "sub": "bench", "aud": "portcullis-registry",
        "exp": now + 300, "nbf": now, "iat": now,
        "jti": hex::encode(jti),
        "access": [{"type": "repository", "name": "bench/app", "actions": ["pull", "push"]}],
    });
    let token = signer.sign(&claims).expect("sign");
    Json(serde_json::json!({ "token": token, "access_token": token, "expires_in": 300, "issued_at": now }))
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3901".into());
    let signer = Arc::new(Signer::ephemeral(KeyAlgorithm::ES256).expect("key generation"));
    let app = Router::new().route("/v2/token", get(token)).with_state(signer);
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
