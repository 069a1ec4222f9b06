//! `triage run`: the embedded pipeline over drops, with a summary a person
//! can read (or JSON) and an exit code that says whether anything was
//! rejected.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use triage_core::{Engine, RunTally, Severity};
use triage_local::{DryRun, Notifier, Progress, RunOptions, SlackWebhooks, Store};

/// Exit code of a run that finished but rejected alerts or quarantined drops.
pub const EXIT_REJECTED: u8 = 2;

/// Inputs larger than this get a progress bar (on a terminal).
const PROGRESS_FROM_BYTES: u64 = 8 << 20;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Drop files or folders [default: the bundled sample drops]
    paths: Vec<PathBuf>,
    /// SQLite database holding the dedup index and audit log.
    #[arg(long, env = "TRIAGE_DB", default_value = "triage.db")]
    db: PathBuf,
    /// Rules config (TOML) [default: the built-in rules, see `triage config show`]
    #[arg(long, env = "TRIAGE_CONFIG")]
    config: Option<PathBuf>,
    /// Dedup window in minutes (overrides the config).
    #[arg(long, env = "DEDUP_WINDOW_MINUTES")]
    window: Option<u64>,
    /// Leave dry-run: post to the Slack webhooks named by the config.
    #[arg(long)]
    send: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Move each drop into processed/ or quarantine/ beside it when done.
    #[arg(long = "move")]
    move_drops: bool,
    /// Triage as if at this instant (RFC 3339), for replays and tests.
    #[arg(long, value_parser = parse_instant)]
    now: Option<DateTime<Utc>>,
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|e| e.to_string())
}

/// The sample drops shipped in the repository.
fn bundled_drops() -> PathBuf {
    let drops = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("events").join("drops");
    let drops = drops.canonicalize().unwrap_or(drops);
    // Shown relative to the working directory when it is inside the checkout.
    std::env::current_dir()
        .ok()
        .and_then(|here| drops.strip_prefix(here).ok().map(Path::to_path_buf))
        .unwrap_or(drops)
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut config = crate::load_config(args.config.as_ref())?;
    if let Some(window) = args.window {
        let max = triage_core::config::MAX_WINDOW_MINUTES;
        anyhow::ensure!((1..=max).contains(&window), "--window must be from 1 to {max} minutes");
        config.file.dedup.window_minutes = window;
    }
    let dry_run = config.file.delivery.dry_run && !args.send;
    let max_attempts = config.file.delivery.max_attempts;
    let notifier: Box<dyn Notifier> =
        if dry_run { Box::new(DryRun) } else { Box::new(SlackWebhooks::from_env(&config)?) };
    let engine = Engine::new(config);

    let paths = if args.paths.is_empty() { vec![bundled_drops()] } else { args.paths.clone() };
    let drops = triage_local::find_drops(&paths, &args.db)?;
    anyhow::ensure!(!drops.is_empty(), "no drop files under {}", display_paths(&paths));
    let total_bytes: u64 =
        drops.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();

    let mut store = Store::open(&args.db)?;
    let bar = progress_bar(total_bytes, args.json);
    let options = RunOptions { drops, now: args.now, move_drops: args.move_drops, dry_run };
    let tally = triage_local::run(&engine, &mut store, &options, &bar).context("run stopped")?;
    bar.0.finish_and_clear();
    let (sent, failed) = triage_local::deliver_pending(&store, notifier.as_ref(), max_attempts)?;

    if args.json {
        let mut value = serde_json::to_value(&tally)?;
        value["dry_run"] = dry_run.into();
        value["config_hash"] = engine.config().hash.clone().into();
        value["deliveries_sent"] = sent.into();
        value["deliveries_failed"] = failed.into();
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_summary(&tally, &engine, &args.db, dry_run, sent, failed);
    }
    anyhow::ensure!(tally.balanced(), "accounting does not balance: {tally:?}");
    let clean = tally.rejected == 0 && tally.quarantined.is_empty() && failed == 0;
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(EXIT_REJECTED) })
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// A progress bar over input bytes, shown only for long runs on a terminal.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

fn progress_bar(total: u64, quiet: bool) -> Bar {
    if quiet || total < PROGRESS_FROM_BYTES || !std::io::stderr().is_terminal() {
        return Bar(ProgressBar::hidden());
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    Bar(bar)
}

fn print_summary(
    tally: &RunTally,
    engine: &Engine,
    db: &Path,
    dry_run: bool,
    sent: u64,
    failed: u64,
) {
    let mode = if dry_run { "dry run: nothing sent" } else { "delivering" };
    println!("run {} ({mode}; config {})", tally.run_id, &engine.config().hash[..12]);
    println!("database {}", db.display());
    println!("drops: {} read, {} quarantined", tally.files, tally.quarantined.len());
    println!(
        "alerts read {} = new {} + duplicate {} + rejected {}",
        tally.read, tally.new, tally.duplicate, tally.rejected
    );
    let severities: Vec<String> = Severity::ALL
        .iter()
        .map(|s| format!("{} {}", s, tally.by_severity.get(s).copied().unwrap_or(0)))
        .collect();
    println!("new by severity: {}", severities.join(", "));
    if !tally.by_destination.is_empty() {
        let destinations: Vec<String> =
            tally.by_destination.iter().map(|(d, n)| format!("{d} {n}")).collect();
        println!("deliveries by destination: {}", destinations.join(", "));
    }
    match tally.average_sla_seconds {
        Some(average) => {
            println!("average SLA (created to triaged, new alerts): {}", duration(average))
        }
        None => println!("average SLA: no new alerts"),
    }
    if tally.created_at_missing > 0 {
        println!("new alerts without created_at (triage time used): {}", tally.created_at_missing);
    }
    if !dry_run {
        println!("slack deliveries: {sent} sent, {failed} failed (e-mail stays pending locally)");
    }
    if !tally.rejections.is_empty() {
        println!("rejected:");
        for note in &tally.rejections {
            println!("  {}: {}", note.origin, note.reason);
        }
        if tally.rejections_not_listed > 0 {
            println!(
                "  ... and {} more (see audit_log where outcome = 'rejected')",
                tally.rejections_not_listed
            );
        }
    }
    if !tally.quarantined.is_empty() {
        println!("quarantined:");
        for note in &tally.quarantined {
            println!("  {}", note.report);
        }
    }
}

/// `1d 02:03:04` style.
fn duration(seconds: f64) -> String {
    let negative = seconds < 0.0;
    let total = seconds.abs().round() as u64;
    let (days, rest) = (total / 86_400, total % 86_400);
    let text = format!("{}d {:02}:{:02}:{:02}", days, rest / 3600, rest % 3600 / 60, rest % 60);
    if negative { format!("-{text}") } else { text }
}
