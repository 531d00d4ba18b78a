//! `portcullis`: config → pool → migrate → serve, plus the operator's subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use server::config::{Config, ConfigArgs};

/// mimalloc instead of the C library's allocator: glibc's malloc and free were a tenth of a
/// registry token's cost in the profile (docs/performance.md), and musl's, in the container
/// image, is slower still.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Portcullis: accounts, teams and access control in front of a container registry.
#[derive(Parser)]
#[command(name = "portcullis", version, about, long_about = None)]
struct Cli {
    /// TOML configuration file [default: portcullis.toml, if it exists].
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and the API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Administration from the command line, for scripted set-up.
    #[command(subcommand)]
    Admin(server::cli::AdminCommand),
    /// Write the registry's config.yml and rootcertbundle.pem (token auth against Portcullis).
    RegistryConfig {
        /// Directory to write into.
        #[arg(long)]
        out: PathBuf,
        /// Where the registry keeps its data [default: OUT/data].
        #[arg(long)]
        storage: Option<PathBuf>,
    },
    /// Token signing keys.
    #[command(subcommand)]
    Keys(server::cli::KeysCommand),
    /// Reconcile with the registry now: add what is missing, remove what is gone.
    Sync,
    /// Check the installation: database, keys, registry, tokens, notifications, clock. Prints a
    /// line a check, each failure with its fix; exits 1 when any failed.
    Doctor,
    /// Exit 0 when the server answers `/readyz` (it reaches PostgreSQL), 1 otherwise: the
    /// container's health check, since the image has no shell or curl.
    Health {
        /// The server's base URL [default: http://127.0.0.1:<the port of listen>].
        #[arg(long)]
        url: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref(), cli.settings)?;
    let command = cli.command.unwrap_or(Command::Serve);
    // The doctor's report is its output; log lines would only interleave with it.
    match command {
        Command::Doctor => {}
        Command::Serve => server::init_tracing(config.log_format),
        _ => server::init_tracing_to(config.log_format, true),
    }
    match command {
        Command::Serve => server::serve(config).await,
        Command::Migrate => {
            let db = server::connect(&config).await?;
            server::migrate(&db).await?;
            tracing::info!("database is up to date");
            Ok(())
        }
        Command::Admin(cmd) => server::cli::admin(&config, cmd).await,
        Command::RegistryConfig { out, storage } => server::cli::registry_config(&config, &out, storage).await,
        Command::Keys(cmd) => server::cli::keys(&config, cmd).await,
        Command::Sync => server::cli::sync(&config).await,
        Command::Doctor => {
            if !server::doctor::run(&config).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Health { url } => server::cli::health(&config, url).await,
    }
}
