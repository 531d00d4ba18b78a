//! The referrers API (OCI distribution-spec 1.1), which Distribution does not serve: the
//! manifests that name another as their `subject` (signatures, SBOMs, attestations), recorded
//! as the gate accepts them and listed per subject, optionally of one `artifactType`.

use serde_json::{json, Map, Value};

use crate::backend::access::principal::Duty;
use crate::backend::AppState;
use crate::error::AppResult;
use crate::model::AttachedArtifact;
use crate::scope::is_digest;

/// The media type of the answer: an image index of descriptors.
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The artifact type of a cosign signature stored the OCI 1.1 way.
pub const COSIGN_SIGNATURE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// The most referrers listed for one subject.
const LIMIT: i64 = 1000;

/// The subject a manifest names, when it names a valid one.
pub fn subject_of(manifest: &Map<String, Value>) -> Option<&str> {
    manifest.get("subject")?.get("digest")?.as_str().filter(|d| is_digest(d))
}

/// Records `repo@digest` (its body parsed as `manifest`) as a referrer of its subject, when it
/// has one. Returns the subject.
pub async fn record(
    state: &AppState,
    repo: &str,
    digest: &str,
    media_type: &str,
    size: usize,
    manifest: &Map<String, Value>,
) -> AppResult<Option<String>> {
    let Some(subject) = subject_of(manifest) else { return Ok(None) };
    let artifact_type = manifest
        .get("artifactType")
        .or_else(|| manifest.get("config").and_then(|c| c.get("mediaType")))
        .and_then(Value::as_str);
    let annotations = manifest.get("annotations").filter(|a| a.is_object());
    sqlx::query!(
        "insert into referrer (repository, subject, digest, media_type, size, artifact_type, annotations)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (repository, subject, digest) do update
         set media_type = $4, size = $5, artifact_type = $6, annotations = $7",
        repo,
        subject,
        digest,
        media_type,
        size as i64,
        artifact_type,
        annotations
    )
    .execute(&mut *Duty::Gate.on(&state.db).await?)
    .await?;
    Ok(Some(subject.to_string()))
}

/// Forgets `repo@digest` as a referrer (deleted through the gate; a delete Portcullis learns
/// from the registry's event is forgotten by a trigger on `manifest`).
pub async fn forget(state: &AppState, repo: &str, digest: &str) -> AppResult<()> {
    sqlx::query!("delete from referrer where repository = $1 and digest = $2", repo, digest)
        .execute(&mut *Duty::Gate.on(&state.db).await?)
        .await?;
    Ok(())
}

/// The answer to `GET /v2/<repo>/referrers/<subject>[?artifactType=]`: an image index of the
/// referrers' descriptors, oldest first.
pub async fn index(state: &AppState, repo: &str, subject: &str, artifact_type: Option<&str>) -> AppResult<Value> {
    let rows = sqlx::query!(
        "select digest, media_type, size, artifact_type, annotations from referrer
         where repository = $1 and subject = $2 and ($3::text is null or artifact_type = $3)
         order by created_at, digest limit $4",
        repo,
        subject,
        artifact_type,
        LIMIT
    )
    .fetch_all(&state.db)
    .await?;
    let manifests: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let mut d = json!({ "mediaType": r.media_type, "digest": r.digest, "size": r.size });
            if let Some(t) = r.artifact_type {
                d["artifactType"] = json!(t);
            }
            if let Some(a) = r.annotations.filter(|a| a.as_object().is_some_and(|o| !o.is_empty())) {
                d["annotations"] = a;
            }
            d
        })
        .collect();
    Ok(json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": manifests }))
}

/// The digests of `repo@subject`'s referrers of one artifact type.
pub async fn of_type(state: &AppState, repo: &str, subject: &str, artifact_type: &str) -> AppResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        "select digest from referrer where repository = $1 and subject = $2 and artifact_type = $3
         order by created_at limit 20",
        repo,
        subject,
        artifact_type
    )
    .fetch_all(&state.db)
    .await?)
}

/// What is attached to `repo@subject`, for its tag page.
pub async fn attached(state: &AppState, repo: &str, subject: &str) -> AppResult<Vec<AttachedArtifact>> {
    Ok(sqlx::query!(
        "select digest, artifact_type from referrer where repository = $1 and subject = $2
         order by created_at limit 50",
        repo,
        subject
    )
    .fetch_all(&state.db)
    .await?
    .into_iter()
    .map(|r| {
        let t = r.artifact_type.unwrap_or_default();
        AttachedArtifact { kind: kind_of(&t).into(), digest: r.digest, artifact_type: t }
    })
    .collect())
}

/// What an artifact type is, as people say it.
fn kind_of(artifact_type: &str) -> &'static str {
    let t = artifact_type.to_ascii_lowercase();
    if t == COSIGN_SIGNATURE || t.contains("signature") || t.contains("notary") {
        "signature"
    } else if t.contains("spdx") || t.contains("cyclonedx") || t.contains("sbom") {
        "SBOM"
    } else if t.contains("in-toto") || t.contains("dsse") || t.contains("attestation") {
        "attestation"
    } else {
        "artifact"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_a_digest_and_kinds_read_as_people_say_them() {
        let with = |v: Value| v.as_object().cloned().unwrap();
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(subject_of(&with(json!({ "subject": { "digest": d } }))), Some(d.as_str()));
        assert_eq!(subject_of(&with(json!({ "subject": { "digest": "../etc" } }))), None);
        assert_eq!(subject_of(&with(json!({ "layers": [] }))), None);
        assert_eq!(kind_of(COSIGN_SIGNATURE), "signature");
        assert_eq!(kind_of("application/vnd.cncf.notary.signature"), "signature");
        assert_eq!(kind_of("application/spdx+json"), "SBOM");
        assert_eq!(kind_of("application/vnd.in-toto+json"), "attestation");
        assert_eq!(kind_of("application/vnd.example.thing"), "artifact");
    }
}
