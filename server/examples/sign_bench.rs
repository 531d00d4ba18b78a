//! Raw token signatures per second on one core, with the same code and claims shape the
//! token endpoint uses: the ceiling the endpoint's throughput is compared against.
//!   cargo run --release -p server --example sign_bench [seconds] [ES256|RS256]

use std::time::{Duration, Instant};

use app::backend::registry::keys::{KeyAlgorithm, Signer};

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let alg: KeyAlgorithm = args.next().and_then(|s| s.parse().ok()).unwrap_or(KeyAlgorithm::ES256);
    let signer = Signer::ephemeral(alg).expect("key generation");
    let claims = serde_json::json!({
        "iss": "portcullis", "sub": "bench", "aud": "portcullis-registry",
        "exp": 2_000_000_000i64, "nbf": 1_700_000_000i64, "iat": 1_700_000_000i64,
        "jti": "0123456789abcdef0123456789abcdef",
        "access": [{"type": "repository", "name": "bench/app", "actions": ["pull"]}],
    });
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut n: u64 = 0;
    while Instant::now() < deadline {
        for _ in 0..100 {
            std::hint::black_box(signer.sign(&claims).expect("sign"));
        }
        n += 100;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} {} signatures/s on one core ({:.1} µs each, {n} in {secs:.1} s)",
        alg.as_str(),
        (n as f64 / secs) as u64,
        secs * 1e6 / n as f64
    );
}
