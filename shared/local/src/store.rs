//! SQLite store: the dedup index, the audit log and the delivery outbox in one
//! file, under the old system's table and column names (`dedup_index`,
//! `audit_log`) plus columns of our own. The dedup index is stored compactly
//! (32-byte keys, epoch seconds) in `dedup` and shown as `dedup_index` by a
//! view: it is the one randomly-keyed B-tree, so its size decides speed. Each batch is one immediate
//! transaction, so two runs sharing a file claim each fingerprint once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use triage_core::audit::{AuditRecord, Outcome};
use triage_core::timestamp;
use triage_core::{Assessed, Engine, Rejected};

use crate::error::LocalError;

/// How long a writer waits for another run's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// WAL lets readers (`triage audit`) work during a run; a 32 MiB page cache
/// and rarer checkpoints keep large runs from thrashing the B-trees, within
/// the memory budget.
const PRAGMAS: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA cache_size = -65536;
PRAGMA wal_autocheckpoint = 16384;
PRAGMA temp_store = MEMORY;
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dedup (
    hash       BLOB PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    source     TEXT NOT NULL
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS dedup_index AS
    SELECT lower(hex(hash)) AS alert_hash,
           strftime('%Y-%m-%dT%H:%M:%SZ', first_seen, 'unixepoch') AS first_seen_utc,
           source
    FROM dedup;
CREATE TABLE IF NOT EXISTS audit_log (
    id                 INTEGER PRIMARY KEY,
    alert_hash         TEXT,
    severity           TEXT,
    source             TEXT NOT NULL,
    routed_to          TEXT NOT NULL,
    created_at_utc     TEXT NOT NULL,
    triaged_at_utc     TEXT NOT NULL,
    sla_seconds        INTEGER NOT NULL,
    payload            TEXT NOT NULL,
    outcome            TEXT NOT NULL,
    rule               TEXT NOT NULL,
    origin             TEXT NOT NULL,
    reason             TEXT,
    created_at_missing INTEGER NOT NULL,
    dry_run            INTEGER NOT NULL,
    run_id             TEXT NOT NULL,
    config_hash        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS delivery (
    audit_id    INTEGER NOT NULL REFERENCES audit_log(id),
    destination TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    sent_at_utc TEXT,
    last_error  TEXT,
    PRIMARY KEY (audit_id, destination)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivery_open ON delivery(state) WHERE state IN ('pending', 'failed');
CREATE TABLE IF NOT EXISTS drops (
    run_id  TEXT NOT NULL,
    object  TEXT NOT NULL,
    status  TEXT NOT NULL CHECK (status IN ('processed', 'quarantined')),
    records INTEGER NOT NULL,
    report  TEXT,
    at_utc  TEXT NOT NULL
);
";

/// An alert on its way into the store, its audit record prepared by the
/// reading thread as if it were new; the claim decides.
#[derive(Debug)]
pub enum Entry {
    Alert { key: [u8; 32], record: Box<AuditRecord> },
    Rejected(Box<AuditRecord>),
}

impl Entry {
    pub fn alert(engine: &Engine, assessed: &Assessed, run_id: &str, now: DateTime<Utc>) -> Entry {
        let mut key = [0u8; 32];
        // Fingerprints are always 64 hex digits.
        let _ = hex::decode_to_slice(&assessed.fingerprint, &mut key);
        Entry::Alert { key, record: Box::new(engine.audit(assessed, Outcome::Routed, run_id, now)) }
    }

    pub fn rejected(
        engine: &Engine,
        rejected: &Rejected,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Entry {
        Entry::Rejected(Box::new(engine.audit_rejected(rejected, run_id, now)))
    }

    fn key(&self) -> &[u8] {
        match self {
            Entry::Alert { key, .. } => key,
            Entry::Rejected(_) => &[],
        }
    }
}

/// A delivery waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryTask {
    pub audit_id: i64,
    pub destination: String,
    pub attempts: u32,
    pub record: AuditRecord,
}

/// The SQLite file of a local deployment.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, LocalError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| LocalError::io(parent, e))?;
        }
        let conn = Connection::open(path)
            .map_err(|cause| LocalError::Database { path: path.into(), cause })?;
        let store = Store { conn, path: path.to_path_buf() };
        store.conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| store.db(e))?;
        store.conn.execute_batch(PRAGMAS).map_err(|e| store.db(e))?;
        store.check_not_legacy()?;
        store.conn.execute_batch(SCHEMA).map_err(|e| store.db(e))?;
        Ok(store)
    }

    fn db(&self, source: rusqlite::Error) -> LocalError {
        LocalError::Database { path: self.path.clone(), cause: source }
    }

    /// The old system's database lacks our columns; writing into it would
    /// break its NOT NULL constraints, so it is refused with a pointer.
    fn check_not_legacy(&self) -> Result<(), LocalError> {
        let has_audit: Option<String> = self
            .conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db(e))?;
        if has_audit.is_none() {
            return Ok(());
        }
        let outcome: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('audit_log') WHERE name = 'outcome'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.db(e))?;
        if outcome == 0 {
            return Err(LocalError::Schema {
                path: self.path.clone(),
                message:
                    "this is the old system's database; run `triage import-legacy` into a new one"
                        .into(),
            });
        }
        Ok(())
    }

    /// Starts a write transaction (taking the write lock at once, so two runs
    /// sharing the file take turns instead of failing midway).
    pub fn begin(&mut self) -> Result<(), LocalError> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| self.db(e))
    }

    /// Commits the write transaction.
    pub fn commit(&mut self) -> Result<(), LocalError> {
        self.conn.execute_batch("COMMIT").map_err(|e| self.db(e))
    }

    /// Claims, audits and queues deliveries for `entries`, inside a
    /// transaction begun with [`Store::begin`]. An alert is new when its
    /// fingerprint is unknown or was first seen more than the window (in force
    /// now) before `now`; its first-seen time is then renewed.
    pub fn write_batch(
        &mut self,
        engine: &Engine,
        entries: Vec<Entry>,
        dry_run: bool,
    ) -> Result<Vec<AuditRecord>, LocalError> {
        let window = i64::try_from(engine.config().window_minutes()).unwrap_or(i64::MAX / 120) * 60;
        let path = self.path.clone();
        let db = |cause| LocalError::Database { path: path.clone(), cause };
        let tx = &self.conn;
        let mut records = Vec::with_capacity(entries.len());
        {
            let mut claim = tx
                .prepare_cached(
                    "INSERT INTO dedup (hash, first_seen, source) VALUES (?1, ?2, ?3)
                     ON CONFLICT(hash) DO UPDATE SET first_seen = excluded.first_seen, source = excluded.source
                     WHERE dedup.first_seen < ?4",
                )
                .map_err(db)?;
            let mut audit = tx
                .prepare_cached(
                    "INSERT INTO audit_log (alert_hash, severity, source, routed_to, created_at_utc,
                         triaged_at_utc, sla_seconds, payload, outcome, rule, origin, reason,
                         created_at_missing, dry_run, run_id, config_hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                )
                .map_err(db)?;
            let mut deliver = tx
                .prepare_cached(
                    "INSERT INTO delivery (audit_id, destination, state) VALUES (?1, ?2, ?3)",
                )
                .map_err(db)?;
            // Claim in key order (equal keys keep input order, so the first
            // copy in the batch wins): neighbouring keys share B-tree pages.
            let mut order: Vec<usize> = (0..entries.len())
                .filter(|&at| matches!(entries[at], Entry::Alert { .. }))
                .collect();
            order.sort_by(|&a, &b| entries[a].key().cmp(entries[b].key()));
            let mut new = vec![false; entries.len()];
            for at in order {
                let Entry::Alert { key, record } = &entries[at] else { continue };
                let now = record.triaged_at_utc.timestamp();
                let claimed = claim
                    .execute(params![
                        &key[..],
                        now,
                        record.source.as_str(),
                        now.saturating_sub(window)
                    ])
                    .map_err(db)?;
                new[at] = claimed == 1;
            }
            for (at, entry) in entries.into_iter().enumerate() {
                let record = match entry {
                    Entry::Alert { mut record, .. } => {
                        if !new[at] {
                            record.outcome = Outcome::Duplicate;
                            record.routed_to.clear();
                        }
                        record
                    }
                    Entry::Rejected(record) => record,
                };
                audit
                    .execute(params![
                        record.alert_hash,
                        record.severity.map(|s| s.as_str()),
                        record.source.as_str(),
                        record.routed_to_text(),
                        timestamp::format(record.created_at_utc),
                        timestamp::format(record.triaged_at_utc),
                        record.sla_seconds,
                        record.payload,
                        record.outcome.as_str(),
                        record.rule,
                        record.origin,
                        record.reason,
                        record.created_at_missing,
                        dry_run,
                        record.run_id,
                        record.config_hash,
                    ])
                    .map_err(db)?;
                let audit_id = tx.last_insert_rowid();
                // A dry run sends nothing, so it queues nothing: `routed_to`
                // with `dry_run = 1` is its record of what would have gone.
                for destination in record.routed_to.iter().filter(|_| !dry_run) {
                    deliver.execute(params![audit_id, destination, "pending"]).map_err(db)?;
                }
                records.push(*record);
            }
        }
        Ok(records)
    }

    /// Marks fingerprints as first seen at the given epoch seconds (keeping
    /// a later first-seen time already known). Returns how many distinct
    /// fingerprints the index now holds from this call.
    pub fn import_seen(
        &mut self,
        seen: &[([u8; 32], i64, triage_core::Source)],
    ) -> Result<u64, LocalError> {
        let path = self.path.clone();
        let db = |cause| LocalError::Database { path: path.clone(), cause };
        let tx = self.conn.transaction().map_err(db)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO dedup (hash, first_seen, source) VALUES (?1, ?2, ?3)
                     ON CONFLICT(hash) DO UPDATE SET first_seen = max(first_seen, excluded.first_seen)",
                )
                .map_err(db)?;
            for (key, first_seen, source) in seen {
                insert.execute(params![&key[..], first_seen, source.as_str()]).map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        let mut distinct: Vec<&[u8; 32]> = seen.iter().map(|(key, _, _)| key).collect();
        distinct.sort_unstable();
        distinct.dedup();
        Ok(distinct.len() as u64)
    }

    /// Notes how a drop ended.
    pub fn record_drop(
        &self,
        run_id: &str,
        object: &str,
        quarantined: bool,
        records: u64,
        report: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), LocalError> {
        let status = if quarantined { "quarantined" } else { "processed" };
        self.conn
            .execute(
                "INSERT INTO drops (run_id, object, status, records, report, at_utc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![run_id, object, status, i64::try_from(records).unwrap_or(i64::MAX), report, timestamp::format(now)],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Deliveries still to make (pending, or failed with attempts left).
    pub fn open_deliveries(&self, max_attempts: u32) -> Result<Vec<DeliveryTask>, LocalError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT d.audit_id, d.destination, d.attempts, a.alert_hash, a.outcome, a.severity, a.rule,
                        a.source, a.routed_to, a.created_at_utc, a.triaged_at_utc, a.sla_seconds,
                        a.created_at_missing, a.payload, a.origin, a.reason, a.run_id, a.config_hash
                 FROM delivery d JOIN audit_log a ON a.id = d.audit_id
                 WHERE d.state IN ('pending', 'failed') AND d.attempts < ?1
                 ORDER BY d.audit_id",
            )
            .map_err(|e| self.db(e))?;
        let rows = statement
            .query_map([max_attempts], |row| {
                let text = |at: usize| row.get::<_, String>(at);
                let when = |at: usize| -> rusqlite::Result<DateTime<Utc>> {
                    Ok(timestamp::parse(&text(at)?, &[]).unwrap_or_default())
                };
                let record = AuditRecord {
                    alert_hash: row.get(3)?,
                    outcome: match text(4)?.as_str() {
                        "routed" => Outcome::Routed,
                        "duplicate" => Outcome::Duplicate,
                        _ => Outcome::Rejected,
                    },
                    severity: row
                        .get::<_, Option<String>>(5)?
                        .as_deref()
                        .and_then(triage_core::Severity::from_hint),
                    rule: text(6)?,
                    source: if text(7)? == "csv" {
                        triage_core::Source::Csv
                    } else {
                        triage_core::Source::Gmail
                    },
                    routed_to: text(8)?
                        .split(',')
                        .filter(|d| !d.is_empty())
                        .map(String::from)
                        .collect(),
                    created_at_utc: when(9)?,
                    triaged_at_utc: when(10)?,
                    sla_seconds: row.get(11)?,
                    created_at_missing: row.get(12)?,
                    payload_sha256: triage_core::fingerprint::of_bytes(text(13)?.as_bytes()),
                    payload: text(13)?,
                    origin: text(14)?,
                    reason: row.get(15)?,
                    run_id: text(16)?,
                    config_hash: text(17)?,
                };
                Ok(DeliveryTask {
                    audit_id: row.get(0)?,
                    destination: text(1)?,
                    attempts: row.get(2)?,
                    record,
                })
            })
            .map_err(|e| self.db(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.db(e))
    }

    /// Records one delivery attempt: sent, or failed with `error`.
    pub fn mark_delivery(
        &self,
        task: &DeliveryTask,
        result: Result<DateTime<Utc>, String>,
    ) -> Result<(), LocalError> {
        let (state, sent_at, error) = match result {
            Ok(at) => ("sent", Some(timestamp::format(at)), None),
            Err(error) => ("failed", None, Some(error)),
        };
        self.conn
            .execute(
                "UPDATE delivery SET state = ?1, attempts = attempts + 1, sent_at_utc = ?2, last_error = ?3
                 WHERE audit_id = ?4 AND destination = ?5",
                params![state, sent_at, error, task.audit_id, task.destination],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }
}
