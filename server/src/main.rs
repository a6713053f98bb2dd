//! `inchart serve` runs the web application; `inchart migrate` moves the
//! database schema. Everything else lives in the library.

use clap::{Parser, Subcommand};
use inchart::config::Settings;
use inchart::platform::{db, telemetry};
use inchart::startup::{Application, shutdown_signal};

#[derive(Parser)]
#[command(
    name = "inchart",
    version,
    about = "InChart: live crypto charts with Python signals"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application (the default).
    Serve,
    /// Apply, revert or list schema migrations.
    Migrate {
        #[command(subcommand)]
        direction: Option<MigrateCommand>,
    },
}

#[derive(Subcommand, Clone, Copy)]
enum MigrateCommand {
    /// Apply every pending migration (the default).
    Up,
    /// Revert the most recent migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    telemetry::init(settings.log_format);
    // Each chart is a socket: allow as many as the system lets this process.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit raised"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }

    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate { direction } => {
            let connection = db::connect(&settings.database_url).await?;
            match direction.unwrap_or(MigrateCommand::Up) {
                MigrateCommand::Up => db::migrate_up(&connection).await,
                MigrateCommand::Down => db::migrate_down(&connection).await,
                MigrateCommand::Status => db::migration_status(&connection).await,
            }
        }
    }
}
