//! A local run: every drop streamed through the core, written to SQLite in
//! batches, then the outbox delivered. Memory is bounded by one batch.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use triage_core::parse::{self, Item};
use triage_core::route::Channel;
use triage_core::{Engine, Notice, RunTally};

use crate::deliver::Notifier;
use crate::error::LocalError;
use crate::store::{Entry, Store};

/// Alerts written per transaction.
const BATCH: usize = 4096;

/// Observes a run's progress (a progress bar in the CLI).
pub trait Progress {
    /// Bytes of input read since the last call.
    fn advance(&self, bytes: u64);
    /// A drop is starting.
    fn drop_started(&self, _path: &Path) {}
}

impl Progress for () {
    fn advance(&self, _bytes: u64) {}
}

/// What a local run reads and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub drops: Vec<PathBuf>,
    /// Triage time; `None` for the clock.
    pub now: Option<DateTime<Utc>>,
    /// Move each drop into `processed/` or `quarantine/` beside it.
    pub move_drops: bool,
    pub dry_run: bool,
}

/// Runs the pipeline over `options.drops`.
pub fn run(
    engine: &Engine,
    store: &mut Store,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<RunTally, LocalError> {
    let clock = || options.now.unwrap_or_else(Utc::now);
    let started = clock();
    let run_id = format!("{}-{}", started.format("%Y%m%dT%H%M%SZ"), &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut tally = RunTally::new(run_id.clone());
    for path in &options.drops {
        progress.drop_started(path);
        let object = path.display().to_string();
        let file = File::open(path).map_err(|e| LocalError::io(path, e))?;
        let reader = Counting { inner: file, progress };
        let before = tally.read;
        let mut failure = None;
        match parse::records(&object, reader, engine.config()) {
            Err(e) => failure = Some(e),
            Ok(records) => {
                let mut batch = Vec::with_capacity(BATCH);
                for item in records {
                    let entry = match item {
                        Ok(Item::Record(raw)) => match engine.normalise(raw) {
                            Ok(alert) => Entry::Alert(Box::new(engine.assess(alert, clock()))),
                            Err(rejected) => Entry::Rejected(rejected),
                        },
                        Ok(Item::Rejected(rejected)) => Entry::Rejected(rejected),
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    };
                    batch.push(entry);
                    if batch.len() == BATCH {
                        write(engine, store, &mut batch, &run_id, clock(), options.dry_run, &mut tally)?;
                    }
                }
                write(engine, store, &mut batch, &run_id, clock(), options.dry_run, &mut tally)?;
            }
        }
        tally.files += 1;
        let records = tally.read - before;
        let report = failure.as_ref().map(|e| {
            serde_json::json!({
                "object": object,
                "line": e.line,
                "error": e.message,
                "records_processed_before_error": records,
                "run_id": run_id,
            })
            .to_string()
        });
        if let Some(e) = &failure {
            tracing::warn!(object = %object, line = e.line.unwrap_or(0), records, "drop quarantined");
            tally.quarantine(&object, e.to_string());
        }
        store.record_drop(&run_id, &object, failure.is_some(), records, report.as_deref(), clock())?;
        if options.move_drops {
            move_drop(path, failure.is_some(), report.as_deref())?;
        }
    }
    Ok(tally)
}

fn write(
    engine: &Engine,
    store: &mut Store,
    batch: &mut Vec<Entry>,
    run_id: &str,
    now: DateTime<Utc>,
    dry_run: bool,
    tally: &mut RunTally,
) -> Result<(), LocalError> {
    if batch.is_empty() {
        return Ok(());
    }
    let records = store.write_batch(engine, std::mem::take(batch), run_id, now, dry_run)?;
    for record in &records {
        tally.count(record);
    }
    Ok(())
}

/// Delivers every open delivery the notifier handles; e-mail and anything
/// else stays pending. Returns (sent, failed).
pub fn deliver_pending(
    store: &Store,
    notifier: &dyn Notifier,
    max_attempts: u32,
) -> Result<(u64, u64), LocalError> {
    let (mut sent, mut failed) = (0, 0);
    for task in store.open_deliveries(max_attempts)? {
        if !notifier.handles(&task.destination) || Channel::of(&task.destination) != Some(Channel::Slack) {
            continue;
        }
        let notice = Notice::new(&task.record, &task.destination);
        let mut delivered = false;
        for attempt in task.attempts..max_attempts {
            match notifier.send(&notice, attempt) {
                Ok(()) => {
                    store.mark_delivery(&task, Ok(Utc::now()))?;
                    delivered = true;
                    break;
                }
                Err(error) => {
                    tracing::warn!(destination = %task.destination, attempt, error = %error, "delivery failed");
                    store.mark_delivery(&task, Err(error))?;
                }
            }
        }
        if delivered {
            sent += 1;
        } else {
            failed += 1;
        }
    }
    Ok((sent, failed))
}

/// Moves a finished drop to `processed/` or `quarantine/` (with a report).
fn move_drop(path: &Path, quarantined: bool, report: Option<&str>) -> Result<(), LocalError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let folder = parent.join(if quarantined { "quarantine" } else { "processed" });
    std::fs::create_dir_all(&folder).map_err(|e| LocalError::io(&folder, e))?;
    let name = path.file_name().unwrap_or_default();
    let target = folder.join(name);
    std::fs::rename(path, &target).map_err(|e| LocalError::io(path, e))?;
    if let Some(report) = report {
        let mut report_name = name.to_os_string();
        report_name.push(".error.json");
        let report_path = folder.join(report_name);
        std::fs::write(&report_path, report).map_err(|e| LocalError::io(&report_path, e))?;
    }
    Ok(())
}

/// Counts bytes read, for the progress bar.
struct Counting<'a, R> {
    inner: R,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}
