//! Portcullis as a client of the registry's HTTP API: catalog, tags, manifests, config
//! blobs, deletes. It authenticates with tokens it signs for itself (subject `portcullis`),
//! each granting only what that call needs.

use std::time::Duration;

use serde::Deserialize;

use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::grant::Access;

/// Every manifest and index type, so the registry never converts (a Docker v2 schema 2
/// manifest fetched without its type in Accept comes back as schema 1 with another digest).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

pub fn is_manifest(media_type: &str) -> bool {
    is_index(media_type) || media_type == OCI_MANIFEST || media_type == DOCKER_V2
}

/// The largest manifest Portcullis reads: Distribution's own limit for a manifest PUT.
pub const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;
/// The largest image config blob Portcullis reads. A config is a few kilobytes; a pusher may
/// point `config.digest` at any blob, a layer of gigabytes included.
pub const CONFIG_LIMIT: u64 = 8 * 1024 * 1024;
/// The largest answer to `tags/list` or `_catalog` read (a million tags is about 20 MB).
pub const LIST_LIMIT: u64 = 64 * 1024 * 1024;

/// Reads a response body, but never more than `limit` bytes: `None` when it is longer (what
/// was read so far is dropped, and the rest is never read).
async fn read_capped(mut res: reqwest::Response, limit: u64) -> AppResult<Option<bytes::Bytes>> {
    if res.content_length().is_some_and(|n| n > limit) {
        return Ok(None);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = res.chunk().await.map_err(registry_error)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// Parses a JSON list answer read within [`LIST_LIMIT`].
async fn read_json<T: serde::de::DeserializeOwned>(res: reqwest::Response, what: &str) -> AppResult<T> {
    let body = read_capped(res, LIST_LIMIT)
        .await?
        .ok_or_else(|| registry_error(format!("{what}: the answer is over {} MiB", LIST_LIMIT >> 20)))?;
    serde_json::from_slice(&body).map_err(registry_error)
}

/// What reading a blob came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Blob {
    Read(bytes::Bytes),
    /// The registry does not have it.
    Missing,
    /// Longer than the limit (declared or found while reading): left unread.
    TooLarge,
}

/// The subject of the tokens Portcullis uses against the registry.
pub const SELF_SUBJECT: &str = "portcullis";

#[derive(Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    /// `http://127.0.0.1:5000`, no trailing slash.
    base: String,
}

fn registry_error(e: impl std::fmt::Display) -> AppError {
    tracing::warn!(error = %e, "registry request failed");
    AppError::Transport(format!("the registry did not answer as expected: {e}"))
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from)
}

/// A fetched manifest.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub media_type: String,
    pub digest: String,
    pub body: bytes::Bytes,
}

impl RegistryClient {
    /// The registry's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(16)
            .build()
            .expect("an HTTP client with default TLS settings");
        Self { http, base: base.trim_end_matches('/').to_string() }
    }

    /// A token for Portcullis's own calls to the registry, granting `access`.
    pub async fn bearer(&self, state: &AppState, access: Vec<Access>) -> AppResult<String> {
        crate::backend::registry::jwt::sign(state, SELF_SUBJECT, &access, chrono::Utc::now()).await
    }

    pub fn repo_access(name: &str, actions: &[&str]) -> Vec<Access> {
        vec![Access {
            kind: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }]
    }

    /// One page of the catalog: repository names and whether there are more after the last.
    pub async fn catalog_page(&self, state: &AppState, last: Option<&str>, n: u32) -> AppResult<(Vec<String>, bool)> {
        #[derive(Deserialize)]
        struct Catalog {
            repositories: Vec<String>,
        }
        let access = vec![Access { kind: "registry".into(), name: "catalog".into(), actions: vec!["*".into()] }];
        let token = self.bearer(state, access).await?;
        let mut req = self.http.get(format!("{}/v2/_catalog", self.base)).query(&[("n", n.to_string())]);
        if let Some(l) = last {
            req = req.query(&[("last", l)]);
        }
        let res = req.bearer_auth(token).send().await.map_err(registry_error)?;
        if !res.status().is_success() {
            return Err(registry_error(format!("catalog: {}", res.status())));
        }
        let more = res
            .headers()
            .get(reqwest::header::LINK)
            .is_some_and(|l| l.to_str().is_ok_and(|l| l.contains("rel=\"next\"")));
        let body: Catalog = read_json(res, "catalog").await?;
        Ok((body.repositories, more))
    }

    /// Every repository in the registry, following the catalog's pages.
    pub async fn catalog(&self, state: &AppState) -> AppResult<Vec<String>> {
        let mut all = Vec::new();
        let mut last: Option<String> = None;
        loop {
            let (page, more) = self.catalog_page(state, last.as_deref(), 500).await?;
            let done = !more || page.is_empty();
            last = page.last().cloned();
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// Sends a pulling request about `repo`: `None` for a 404, an error for any other failure.
    async fn pull_request(
        &self,
        state: &AppState,
        repo: &str,
        method: reqwest::Method,
        path: &str,
        accept: Option<&str>,
    ) -> AppResult<Option<reqwest::Response>> {
        let token = self.bearer(state, Self::repo_access(repo, &["pull"])).await?;
        let mut req = self.http.request(method.clone(), format!("{}/v2/{repo}/{path}", self.base)).bearer_auth(token);
        if let Some(a) = accept {
            req = req.header(reqwest::header::ACCEPT, a);
        }
        let res = req.send().await.map_err(registry_error)?;
        match res.status() {
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(res)),
            s => Err(registry_error(format!("{method} {repo}/{path}: {s}"))),
        }
    }

    /// Puts a manifest under `reference` with a push token for `subject`, whom the registry's
    /// event then names (a user putting an earlier image back, as if they pushed it).
    pub async fn put_manifest(
        &self,
        state: &AppState,
        subject: &str,
        repo: &str,
        reference: &str,
        fetched: &Fetched,
    ) -> AppResult<()> {
        let access = Self::repo_access(repo, &["pull", "push"]);
        let token = crate::backend::registry::jwt::sign(state, subject, &access, chrono::Utc::now()).await?;
        let res = self
            .http
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, &fetched.media_type)
            .body(fetched.body.clone())
            .send()
            .await
            .map_err(registry_error)?;
        match res.status() {
            s if s.is_success() => Ok(()),
            s => Err(registry_error(format!("PUT {repo}/manifests/{reference}: {s}"))),
        }
    }

    /// The tags of a repository (none when the registry does not know it).
    pub async fn tags(&self, state: &AppState, repo: &str) -> AppResult<Vec<String>> {
        #[derive(Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        match self.pull_request(state, repo, reqwest::Method::GET, "tags/list", None).await? {
            Some(res) => Ok(read_json::<Tags>(res, "tags/list").await?.tags.unwrap_or_default()),
            None => Ok(Vec::new()),
        }
    }

    /// The digest and media type a reference points at, without the body (HEAD).
    pub async fn head_manifest(
        &self,
        state: &AppState,
        repo: &str,
        reference: &str,
    ) -> AppResult<Option<(String, String)>> {
        let path = format!("manifests/{reference}");
        let Some(res) = self.pull_request(state, repo, reqwest::Method::HEAD, &path, Some(MANIFEST_ACCEPT)).await?
        else {
            return Ok(None);
        };
        match (header(&res, "docker-content-digest"), header(&res, "content-type")) {
            (Some(d), Some(t)) => Ok(Some((d, t))),
            _ => Err(registry_error("HEAD without digest or content type")),
        }
    }

    /// A manifest or index by tag or digest; `None` when the registry does not have it. One
    /// over [`MANIFEST_LIMIT`] is an error that will not pass by asking again.
    pub async fn manifest(&self, state: &AppState, repo: &str, reference: &str) -> AppResult<Option<Fetched>> {
        let path = format!("manifests/{reference}");
        let Some(res) = self.pull_request(state, repo, reqwest::Method::GET, &path, Some(MANIFEST_ACCEPT)).await?
        else {
            return Ok(None);
        };
        let media_type = header(&res, "content-type").unwrap_or_default();
        let digest = header(&res, "docker-content-digest").unwrap_or_else(|| reference.to_string());
        let body = read_capped(res, MANIFEST_LIMIT).await?.ok_or_else(|| {
            AppError::BadRequest(format!(
                "the manifest is over {} MiB, more than a registry accepts",
                MANIFEST_LIMIT >> 20
            ))
        })?;
        Ok(Some(Fetched { media_type, digest, body }))
    }

    /// A blob, read only if it is at most `limit` bytes: the size its descriptor declares is
    /// checked first, then what the registry says, then what it sends.
    pub async fn blob(&self, state: &AppState, repo: &str, digest: &str, declared: i64, limit: u64) -> AppResult<Blob> {
        if u64::try_from(declared).is_ok_and(|d| d > limit) {
            return Ok(Blob::TooLarge);
        }
        match self.pull_request(state, repo, reqwest::Method::GET, &format!("blobs/{digest}"), None).await? {
            Some(res) => Ok(read_capped(res, limit).await?.map(Blob::Read).unwrap_or(Blob::TooLarge)),
            None => Ok(Blob::Missing),
        }
    }

    /// Deletes a manifest by digest; every tag pointing at it goes with it. An already
    /// deleted manifest counts as deleted.
    pub async fn delete_manifest(&self, state: &AppState, repo: &str, digest: &str) -> AppResult<()> {
        let token = self.bearer(state, Self::repo_access(repo, &["delete"])).await?;
        let res = self
            .http
            .delete(format!("{}/v2/{repo}/manifests/{digest}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .map_err(registry_error)?;
        match res.status() {
            s if s.is_success() || s == reqwest::StatusCode::NOT_FOUND => Ok(()),
            reqwest::StatusCode::METHOD_NOT_ALLOWED => {
                Err(AppError::Conflict("The registry does not allow deletes (storage.delete.enabled is off).".into()))
            }
            s => Err(registry_error(format!("DELETE {repo}@{digest}: {s}"))),
        }
    }
}
