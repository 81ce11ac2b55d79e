//! `portolan`: the developer portal in one binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Portolan, the internal developer portal.
#[derive(Debug, Parser)]
#[command(name = "portolan", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the portal (the default): migrate the database, then serve on PORTOLAN_ADDR (127.0.0.1:3000).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Work with the software catalog.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Import catalog-info.yaml files: files, directories (every *.yaml/*.yml under them) and the Location
    /// entities they contain. Prints a summary; exits with 1 when any document had an error.
    Import {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match portolan_core::config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("portolan: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    portolan_server::telemetry::init(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("portolan: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => portolan_server::serve(config).await.map(|()| true),
            Command::Migrate => portolan_server::migrate_only(&config).await.map(|()| true),
            Command::Catalog { command: CatalogCommand::Import { paths } } => {
                portolan_server::catalog_import(&config, &paths).await
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            tracing::error!(error = %e, "portolan stopped");
            eprintln!("portolan: {e}");
            ExitCode::FAILURE
        }
    }
}
