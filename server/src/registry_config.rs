//! `portcullis registry-config`: the registry's `config.yml` (token authentication against
//! this Portcullis, notifications to its inbox) and `rootcertbundle.pem`.

use std::path::Path;

use app::backend::AppState;
use rand::RngCore as _;

use crate::config::Config;

/// Where the registry listens and keeps its data, for `registry-config`.
pub struct RegistryLayout<'a> {
    pub listen: &'a str,
    pub storage: &'a Path,
}

/// Writes the registry's `config.yml` and `rootcertbundle.pem` into `out`: token auth against
/// this Portcullis, deletes enabled.
pub async fn write_config(
    state: &AppState,
    config: &Config,
    out: &Path,
    layout: RegistryLayout<'_>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::create_dir_all(layout.storage)?;
    let out = &std::fs::canonicalize(out)?;
    let storage = std::fs::canonicalize(layout.storage)?;
    let bundle = state.keys.bundle(&state.db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let bundle_path = out.join("rootcertbundle.pem");
    write_file(&bundle_path, bundle.as_bytes(), 0o644)?;
    let mut secret = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let base = config.public_url.trim_end_matches('/');
    let yaml = format!(
        r#"# Written by `portcullis registry-config`: token authentication against Portcullis.
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: {listen}
  secret: {secret}
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  token:
    realm: {realm}
    service: {service}
    issuer: {issuer}
    rootcertbundle: {bundle}
notifications:
  events:
    includereferences: true
  endpoints:
    - name: portcullis
      url: {events}
      headers:
        Authorization: [Bearer {events_secret}]
      timeout: 2s
      threshold: 3
      backoff: 3s
      # Blob uploads, pulls and mounts change no tag: only manifest events are sent.
      ignoredmediatypes:
        - application/octet-stream
"#,
        storage = storage.display(),
        listen = layout.listen,
        secret = hex::encode(secret),
        realm = format_args!("{base}/v2/token"),
        service = state.settings.token.service,
        issuer = state.settings.token.issuer,
        bundle = bundle_path.display(),
        events = config.events_url(),
        events_secret = state.events_secret,
    );
    // It holds the registry's HTTP secret and the notification secret.
    write_file(&out.join("config.yml"), yaml.as_bytes(), 0o600)?;
    Ok(())
}

/// Writes a file with the given permissions (from its creation on, never wider).
fn write_file(path: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(mode);
    let mut file = options.open(path)?;
    file.write_all(content)?;
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(())
}
