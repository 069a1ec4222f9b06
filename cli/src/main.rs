//! `triage`: runs the alert pipeline locally over a folder of drops, answers
//! the examiners' audit questions, and shows or checks the rules config.

mod audit_cmd;
mod config_cmd;
mod run_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Parsing and writing run on two threads; mimalloc keeps cross-thread frees
/// cheap where the system allocator contends.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use triage_core::Config;

/// Alert triage for compliance teams, run locally.
#[derive(Debug, Parser)]
#[command(name = "triage", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Triage drops (files or folders; default: the bundled sample drops).
    Run(run_cmd::RunArgs),
    /// Answer the examiners' standard questions from the audit log.
    Audit(audit_cmd::AuditArgs),
    /// Keep the old system's alerts suppressed: re-fingerprint the payloads
    /// of its audit log into this database's dedup index.
    ImportLegacy(ImportArgs),
    /// Show the effective rules config, or check a config file.
    Config {
        #[command(subcommand)]
        action: config_cmd::ConfigAction,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    // Usage errors exit 1, like any run that could not be done: exit code 2
    // means a run finished with rejections.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            return ExitCode::FAILURE;
        }
        Err(e) => e.exit(),
    };
    let outcome = match cli.command {
        Command::Run(args) => run_cmd::run(args),
        Command::Audit(args) => audit_cmd::run(args).map(|()| ExitCode::SUCCESS),
        Command::ImportLegacy(args) => import_legacy(args).map(|()| ExitCode::SUCCESS),
        Command::Config { action } => config_cmd::run(action),
    };
    outcome.unwrap_or_else(|e| {
        eprintln!("triage: {e:#}");
        ExitCode::FAILURE
    })
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The old system's SQLite database (its `audit_log` and `dedup_index`).
    legacy_db: PathBuf,
    /// SQLite database of this product to import into.
    #[arg(long, env = "TRIAGE_DB", default_value = "triage.db")]
    db: PathBuf,
    /// Rules config whose field map and fingerprint fields apply.
    #[arg(long, env = "TRIAGE_CONFIG")]
    config: Option<PathBuf>,
}

fn import_legacy(args: ImportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.legacy_db.exists(), "no database at {}", args.legacy_db.display());
    let engine = triage_core::Engine::new(load_config(args.config.as_ref())?);
    let mut store = triage_local::Store::open(&args.db)?;
    let import = triage_local::import_legacy(&engine, &mut store, &args.legacy_db)?;
    println!(
        "read {} audit rows of {}; {} fingerprints now suppressed in {} until their window ends",
        import.read,
        args.legacy_db.display(),
        import.imported,
        args.db.display()
    );
    for skipped in &import.skipped {
        println!("  not imported: {skipped}");
    }
    anyhow::ensure!(
        import.skipped.is_empty(),
        "{} rows could not be imported",
        import.skipped.len()
    );
    Ok(())
}

/// Loads the config file, or the built-in default.
pub(crate) fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
    Config::from_toml(&text).map_err(|e| {
        let lines: Vec<String> =
            e.0.iter().map(|issue| format!("{}: {issue}", path.display())).collect();
        anyhow::anyhow!("invalid config:\n{}", lines.join("\n"))
    })
}
