//! `portcullis admin …`: scripted set-up without a browser.

use std::io::BufRead as _;

use app::backend::access::{
    access_tokens::{self as tokens, NewToken},
    accounts::{self as admin, AccountRequest},
    users::{self, Origin},
};
use chrono::{Duration, Utc};
use clap::Subcommand;

use crate::config::Config;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a user (with their personal namespace). Prints the user as JSON.
    CreateUser {
        /// Username (2–64 characters: lowercase letters, digits and . _ - between them).
        username: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// A bot user: no password, signs in with access tokens only.
        #[arg(long)]
        bot: bool,
        /// Read the password from the first line of standard input (required unless --bot).
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        email: Option<String>,
    },
    /// Create an access token for a user. Prints the secret (shown only this once).
    CreateToken {
        /// The user the token belongs to.
        username: String,
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// Only pulling is allowed with this token.
        #[arg(long)]
        pull_only: bool,
        /// Restrict the token to this namespace (repeat for several).
        #[arg(long = "namespace")]
        namespaces: Vec<String>,
        /// Expire after this many days.
        #[arg(long)]
        expires_days: Option<i64>,
    },
}

pub async fn admin(config: &Config, cmd: AdminCommand) -> anyhow::Result<()> {
    let state = prepared(config).await?;
    match cmd {
        AdminCommand::CreateUser { username, admin: is_admin, bot, password_stdin, email } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            let req = AccountRequest { username, password, email, is_admin, is_bot: bot, display_name: None };
            let user = admin::create_account(&state, req, Origin::System).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let view = users::view(&state.db, user.id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        AdminCommand::CreateToken { username, name, pull_only, namespaces, expires_days } => {
            let owner = users::find_by_username(&state.db, &username)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("no user named {username}"))?;
            let mut ids = Vec::new();
            for ns in &namespaces {
                let rows = app::backend::org::namespaces::namespaces_by_name(
                    &state.db,
                    Some(owner.id),
                    std::slice::from_ref(ns),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                ids.push(rows.first().ok_or_else(|| anyhow::anyhow!("no namespace named {ns}"))?.id);
            }
            let new = NewToken {
                name: name.clone(),
                namespaces: namespaces.clone(),
                pull_only,
                expires_at: expires_days.map(|d| Utc::now() + Duration::days(d)),
            };
            let ids = (!ids.is_empty()).then_some(ids);
            let created = async {
                let change = app::backend::access::principal::Duty::Setup.begin(&state.db).await?;
                tokens::insert(change, &state.db, &owner, &name, ids, &new).await
            }
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", created.secret);
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Sign new tokens with a new key now (it also happens by itself every key_rotation_hours).
    /// Tokens signed by the old one stay valid until they expire; the registry needs no change
    /// (both keys chain to the same CA).
    Rotate,
    /// Replace the certificate authority the registry trusts, in two steps with a registry
    /// restart between them: without --finish, a new CA is staged and published in the
    /// bundle (write it with `registry-config` or `keys bundle`, restart the registry); with
    /// --finish, the staged CA takes over and the old one is retired.
    RotateCa {
        /// The registry runs with the new bundle: switch to the staged CA.
        #[arg(long)]
        finish: bool,
    },
    /// Print the registry's rootcertbundle (the CA certificates it must trust).
    Bundle,
}

async fn prepared(config: &Config) -> anyhow::Result<app::backend::AppState> {
    let db = crate::connect(config).await?;
    crate::migrate(&db).await?;
    crate::state(db, config).await
}

pub async fn keys(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let state = prepared(config).await?;
    match cmd {
        KeysCommand::Rotate => {
            let kid = state.keys.rotate(&state.db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{kid}");
        }
        KeysCommand::RotateCa { finish } => {
            use app::backend::registry::keys::CaRotation;
            match state.keys.rotate_ca(&state.db, finish).await.map_err(|e| anyhow::anyhow!("{e}"))? {
                CaRotation::Staged { kid } => {
                    eprintln!(
                        "New CA {kid} staged. Write the registry's bundle (`portcullis registry-config` or \
                         `portcullis keys bundle`), restart the registry, then run `portcullis keys rotate-ca --finish`."
                    );
                    println!("{kid}");
                }
                CaRotation::Finished { kid } => {
                    eprintln!("CA {kid} now certifies the signing keys; the old CA leaves the bundle once its tokens expired.");
                    println!("{kid}");
                }
            }
        }
        KeysCommand::Bundle => {
            print!("{}", state.keys.bundle(&state.db).await.map_err(|e| anyhow::anyhow!("{e}"))?);
        }
    }
    Ok(())
}

pub async fn registry_config(
    config: &Config,
    out: &std::path::Path,
    storage: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let state = prepared(config).await?;
    let storage = storage.unwrap_or_else(|| out.join("data"));
    let layout = crate::registry_config::RegistryLayout { listen: &config.registry_listen, storage: &storage };
    crate::registry_config::write_config(&state, config, out, layout).await?;
    println!("{}", out.join("config.yml").display());
    Ok(())
}

pub async fn sync(config: &Config) -> anyhow::Result<()> {
    let state = prepared(config).await?;
    match app::backend::images::reconcile::reconcile(&state, "command line")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        Some(r) => println!("{}", serde_json::to_string_pretty(&r)?),
        None => anyhow::bail!("a reconcile is already running (on another replica?)"),
    }
    Ok(())
}

/// Whether the server at `url` (default: this configuration's listen port on 127.0.0.1) is
/// ready: its `/readyz` answers 200 within three seconds.
pub async fn health(config: &Config, url: Option<String>) -> anyhow::Result<()> {
    let base = url.unwrap_or_else(|| format!("http://127.0.0.1:{}", config.listen.port()));
    let ready = format!("{}/readyz", base.trim_end_matches('/'));
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
    let status = client.get(&ready).send().await.map_err(|e| anyhow::anyhow!("{ready}: {e}"))?.status();
    anyhow::ensure!(status.is_success(), "{ready} answered {status}");
    println!("{ready}: ready");
    Ok(())
}
