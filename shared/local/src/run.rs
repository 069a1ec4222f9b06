//! A local run: every drop streamed through the core, written to SQLite in
//! batches, then the outbox delivered. Memory is bounded by a few batches.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;

use chrono::{DateTime, Utc};
use triage_core::parse::{self, FileError, Item};
use triage_core::route::Channel;
use triage_core::{Engine, Notice, RunTally};

use crate::deliver::Notifier;
use crate::error::LocalError;
use crate::store::{Entry, Store};

/// Alerts handed from the reader to the writer at a time.
const BATCH: usize = 2048;

/// Alerts per transaction. Dedup keys are random, so a commit rewrites most
/// of the index's leaves: fewer, larger commits write far less. A crash loses
/// at most this many uncommitted (and so undelivered) alerts, which the next
/// run triages again.
const COMMIT_EVERY: usize = 1_000_000;

/// Batches in flight between the reading and the writing thread.
const IN_FLIGHT: usize = 2;

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

/// What the reading thread hands the writing thread.
enum Message {
    /// Alerts of the current drop, assessed, in order.
    Batch(Vec<Entry>),
    /// The current drop is finished; `failure` says why it stopped early.
    DropEnd { path: PathBuf, failure: Option<FileError> },
}

type Sender = SyncSender<Result<Message, LocalError>>;

/// Runs the pipeline over `options.drops`. One thread reads, parses and
/// assesses; this one claims and writes, so parsing overlaps with SQLite.
pub fn run(
    engine: &Engine,
    store: &mut Store,
    options: &RunOptions,
    progress: &(dyn Progress + Sync),
) -> Result<RunTally, LocalError> {
    let clock = || options.now.unwrap_or_else(Utc::now);
    let started = clock();
    let run_id = format!(
        "{}-{}",
        started.format("%Y%m%dT%H%M%SZ"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut tally = RunTally::new(run_id.clone());
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel(IN_FLIGHT);
        let reader_run_id = run_id.clone();
        scope.spawn(move || read_drops(engine, options, &reader_run_id, progress, &sender));
        let (mut drop_start, mut uncommitted) = (0, 0);
        store.begin()?;
        // Returning early drops the receiver, which stops the reader; the
        // open transaction is rolled back when the store closes.
        for message in receiver {
            match message? {
                Message::Batch(batch) => {
                    let records = store.write_batch(engine, batch, options.dry_run)?;
                    for record in &records {
                        tally.count(record);
                    }
                    uncommitted += records.len();
                    if uncommitted >= COMMIT_EVERY {
                        store.commit()?;
                        store.begin()?;
                        uncommitted = 0;
                    }
                }
                Message::DropEnd { path, failure } => {
                    let records = tally.read - drop_start;
                    drop_start = tally.read;
                    finish_drop(store, &mut tally, options, &path, failure, records, clock())?;
                }
            }
        }
        store.commit()?;
        Ok(tally)
    })
}

/// The reading side: every drop, record by record, in batches. Stops when
/// the writer hangs up.
fn read_drops(
    engine: &Engine,
    options: &RunOptions,
    run_id: &str,
    progress: &(dyn Progress + Sync),
    sender: &Sender,
) {
    for path in &options.drops {
        progress.drop_started(path);
        let failure = match File::open(path) {
            Ok(file) => {
                read_drop(engine, options, run_id, path, Counting { inner: file, progress }, sender)
            }
            Err(e) => {
                let _ = sender.send(Err(LocalError::io(path, e)));
                return;
            }
        };
        match failure {
            Ok(failure) => {
                if sender.send(Ok(Message::DropEnd { path: path.clone(), failure })).is_err() {
                    return;
                }
            }
            Err(Hangup) => return,
        }
    }
}

/// The writer is gone.
struct Hangup;

/// Sends one drop's alerts; returns why it stopped early, if it did.
fn read_drop(
    engine: &Engine,
    options: &RunOptions,
    run_id: &str,
    path: &Path,
    reader: impl Read,
    sender: &Sender,
) -> Result<Option<FileError>, Hangup> {
    let clock = || options.now.unwrap_or_else(Utc::now);
    let object = path.display().to_string();
    let records = match parse::records(&object, reader, engine.config()) {
        Ok(records) => records,
        Err(e) => return Ok(Some(e)),
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut failure = None;
    for item in records {
        let entry = match item {
            Ok(Item::Record(raw)) => {
                let now = clock();
                match engine.normalise(raw) {
                    Ok(alert) => Entry::alert(engine, &engine.assess(alert, now), run_id, now),
                    Err(rejected) => Entry::rejected(engine, &rejected, run_id, now),
                }
            }
            Ok(Item::Rejected(rejected)) => Entry::rejected(engine, &rejected, run_id, clock()),
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        batch.push(entry);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            sender.send(Ok(Message::Batch(full))).map_err(|_| Hangup)?;
        }
    }
    if !batch.is_empty() {
        sender.send(Ok(Message::Batch(batch))).map_err(|_| Hangup)?;
    }
    Ok(failure)
}

/// Records how a drop ended, and moves it when asked.
fn finish_drop(
    store: &Store,
    tally: &mut RunTally,
    options: &RunOptions,
    path: &Path,
    failure: Option<FileError>,
    records: u64,
    now: DateTime<Utc>,
) -> Result<(), LocalError> {
    let object = path.display().to_string();
    tally.files += 1;
    let report = failure.as_ref().map(|e| {
        serde_json::json!({
            "object": object,
            "line": e.line,
            "error": e.message,
            "records_processed_before_error": records,
            "run_id": tally.run_id,
        })
        .to_string()
    });
    if let Some(e) = &failure {
        tracing::warn!(object = %object, line = e.line.unwrap_or(0), records, "drop quarantined");
        tally.quarantine(&object, e.to_string());
    }
    store.record_drop(
        &tally.run_id,
        &object,
        failure.is_some(),
        records,
        report.as_deref(),
        now,
    )?;
    if options.move_drops {
        move_drop(path, failure.is_some(), report.as_deref(), &tally.run_id)?;
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
        if !notifier.handles(&task.destination)
            || Channel::of(&task.destination) != Some(Channel::Slack)
        {
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

/// Moves a finished drop to `processed/` or `quarantine/` (with a report),
/// never over an earlier drop of the same name: that one is evidence too.
fn move_drop(
    path: &Path,
    quarantined: bool,
    report: Option<&str>,
    run_id: &str,
) -> Result<(), LocalError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let folder = parent.join(if quarantined { "quarantine" } else { "processed" });
    std::fs::create_dir_all(&folder).map_err(|e| LocalError::io(&folder, e))?;
    let name = path.file_name().unwrap_or_default();
    let mut target = folder.join(name);
    if target.exists() {
        let mut unique = name.to_os_string();
        unique.push(format!(".{run_id}"));
        target = folder.join(unique);
    }
    std::fs::rename(path, &target).map_err(|e| LocalError::io(path, e))?;
    if let Some(report) = report {
        let mut report_name = target.file_name().unwrap_or_default().to_os_string();
        report_name.push(".error.json");
        let report_path = folder.join(report_name);
        std::fs::write(&report_path, report).map_err(|e| LocalError::io(&report_path, e))?;
    }
    Ok(())
}

/// Counts bytes read, for the progress bar.
struct Counting<'a, R> {
    inner: R,
    progress: &'a (dyn Progress + Sync),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}
