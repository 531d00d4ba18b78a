//! How the site's files and pages are sent: compressed when the client accepts it, hashed
//! files kept by browsers for a year, pages and API answers asked for again every time.

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;

/// A GET with `Accept-Encoding`.
async fn fetch(app: &axum::Router, path: &str, encodings: &str) -> Reply {
    let req = Request::get(path)
        .header(header::ACCEPT, "text/html,*/*")
        .header(header::ACCEPT_ENCODING, encodings)
        .body(Body::empty())
        .unwrap();
    send(app, req).await
}

fn header_of(r: &Reply, name: header::HeaderName) -> &str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn files_and_pages_are_compressed_and_cached_as_they_should() {
    // A site as a release build leaves it: a hashed wasm with its gzip beside it, and a
    // stylesheet without.
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let wasm = "portcullis.Zm9vYmFyYmF6cXV4MTIzNDU2.wasm";
    let body = vec![b'w'; 64 * 1024];
    std::fs::write(pkg.join(wasm), &body).unwrap();
    // Not real gzip: the server sends the file as it is, which is what is checked.
    let gz = b"(the wasm, gzipped at build time)".to_vec();
    std::fs::write(pkg.join(format!("{wasm}.gz")), &gz).unwrap();
    std::fs::write(pkg.join("portcullis.css"), "body { color: black; }\n".repeat(400)).unwrap();
    let db = fresh_db().await;
    let root = site.path().to_string_lossy().into_owned();
    let app = app_with(&db, move |c| c.site_root = root).await;

    // The hashed wasm: its gzip as it is on disk, kept for a year.
    let r = fetch(&app, &format!("/pkg/{wasm}"), "gzip").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header_of(&r, header::CONTENT_ENCODING), "gzip");
    assert_eq!(r.body.as_bytes(), gz.as_slice());
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
    // Only brotli accepted, and no .br beside it: plain (a wasm is never compressed on the
    // fly: a debug build's is 16 MB).
    let r = fetch(&app, &format!("/pkg/{wasm}"), "br").await;
    assert_eq!(header_of(&r, header::CONTENT_ENCODING), "");
    // A client that accepts no compression gets it plain.
    let r = fetch(&app, &format!("/pkg/{wasm}"), "identity").await;
    assert_eq!(header_of(&r, header::CONTENT_ENCODING), "");
    assert_eq!(r.body.len(), body.len());
    // An unhashed file (a debug build's) is compressed as it is sent, and checked each time.
    let r = fetch(&app, "/pkg/portcullis.css", "br").await;
    assert_eq!(header_of(&r, header::CONTENT_ENCODING), "br");
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-cache");

    // A page: compressed, never kept without asking again.
    let r = fetch(&app, "/login", "gzip, br").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header_of(&r, header::CONTENT_ENCODING), "br");
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-cache");
    // The page links the stylesheet the site has (no hash.txt beside this test: plain names).
    let plain = fetch(&app, "/login", "identity").await;
    assert!(plain.body.contains(r#"href="/pkg/portcullis.css""#), "{}", plain.body);
    // The API: not stored; a registry token is small, and sent as it is.
    let r = fetch(&app, "/api/v1/health", "gzip").await;
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-store");
    let r = fetch(&app, "/v2/token?service=portcullis-registry", "gzip").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(header_of(&r, header::CONTENT_ENCODING), "", "tokens are not compressed");
    // Refusals of the registry's routes are not stored either.
    let req = Request::get("/v2/token?service=portcullis-registry")
        .header(header::AUTHORIZATION, basic("nobody", "wrong"))
        .body(Body::empty())
        .unwrap();
    let r = send(&app, req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-store");
}
