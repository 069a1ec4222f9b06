//! One ingest run over some drops: each object streamed through the core,
//! its alerts claimed, audited and enqueued in batches, and the object moved
//! out of `incoming/` only once every alert in it is accounted for.
//!
//! Order per batch: claim -> audit items -> queue messages -> mark enqueued.
//! A crash anywhere before the last step leaves claims whose lease expires;
//! the next run takes them over and finishes them (see `triage_aws::dedup`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use serde::Serialize;
use triage_aws::audit::{self, AuditKey};
use triage_aws::dedup::{Claim, ClaimRequest};
use triage_aws::drops::{Moved, Parsed};
use triage_aws::error::AwsError;
use triage_aws::queue::{DeliveryMessage, Sent};
use triage_core::fingerprint;
use triage_core::{AuditRecord, Outcome, RunTally};

use crate::Ingest;

/// Alerts claimed, audited and enqueued together.
const BATCH: usize = 100;
/// Claims in flight at once.
const CLAIMS_AT_ONCE: usize = 16;

/// What an invocation did; also its response.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub run_id: String,
    pub read: u64,
    pub new: u64,
    pub duplicate: u64,
    pub rejected: u64,
    /// Of `duplicate`: claimed by another live run, so their objects stay.
    pub in_flight: u64,
    pub objects: Objects,
    /// Deliveries enqueued, by destination.
    pub by_destination: BTreeMap<String, u64>,
    /// Messages sent, per queue.
    pub enqueued: Sent,
    /// Objects that failed, with the reason; they stay in `incoming/`.
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Objects {
    pub processed: u64,
    pub quarantined: u64,
    /// Left in `incoming/` for a later run (alerts in flight elsewhere, or an error).
    pub left: u64,
    /// Already moved by another invocation.
    pub gone: u64,
}

/// How one object ended.
enum Ended {
    Processed,
    Quarantined,
    Left,
    Gone,
}

/// One alert (or rejection) on its way through a batch.
enum Entry {
    Alert(Box<triage_core::Assessed>),
    Rejected(triage_core::Rejected),
}

/// Mutable state of one run.
struct Run {
    id: String,
    started: DateTime<Utc>,
    sequence: u64,
    tally: RunTally,
    summary: Summary,
}

impl Ingest {
    /// Runs over `keys` in order; an object's failure does not stop the others.
    pub async fn run(&self, keys: &[String]) -> Summary {
        let started = Utc::now();
        let id = format!("{}-{}", started.format("%Y%m%dT%H%M%SZ"), &uuid_suffix());
        let mut run = Run {
            id: id.clone(),
            started,
            sequence: 0,
            tally: RunTally::new(id.clone()),
            summary: Summary { run_id: id, ..Summary::default() },
        };
        for key in keys {
            match self.object(key, &mut run).await {
                Ok(Ended::Processed) => run.summary.objects.processed += 1,
                Ok(Ended::Quarantined) => run.summary.objects.quarantined += 1,
                Ok(Ended::Left) => run.summary.objects.left += 1,
                Ok(Ended::Gone) => run.summary.objects.gone += 1,
                Err(error) => {
                    tracing::error!(run_id = %run.id, key = %key, error = %error, "drop left in incoming/");
                    run.summary.objects.left += 1;
                    run.summary.errors.push(format!("{key}: {error}"));
                }
            }
        }
        let Run { tally, mut summary, .. } = run;
        summary.read = tally.read;
        summary.new = tally.new;
        summary.duplicate = tally.duplicate;
        summary.rejected = tally.rejected;
        summary.by_destination = tally.by_destination;
        summary
    }

    async fn object(&self, key: &str, run: &mut Run) -> Result<Ended, AwsError> {
        let Some(mut reader) = self.drops.read(key, Arc::clone(&self.engine), run.started).await?
        else {
            return Ok(Ended::Gone);
        };
        let read_before = run.tally.read;
        let mut batch = Vec::with_capacity(BATCH);
        let mut in_flight = false;
        let mut failure = None;
        let mut outcome = Ok(());
        while let Some(parsed) = reader.next().await {
            match parsed {
                Parsed::Alert(assessed) => batch.push(Entry::Alert(assessed)),
                Parsed::Rejected(rejected) => batch.push(Entry::Rejected(rejected)),
                Parsed::Failed { error, transport } => {
                    failure = Some((error, transport));
                    break;
                }
            }
            if batch.len() == BATCH {
                outcome =
                    self.commit(std::mem::take(&mut batch), run).await.map(|f| in_flight |= f);
                if outcome.is_err() {
                    break;
                }
            }
        }
        if outcome.is_ok() {
            outcome = self.commit(batch, run).await.map(|f| in_flight |= f);
        }
        reader.finish().await?;
        outcome?;
        let records = run.tally.read - read_before;
        match failure {
            Some((error, true)) => Err(AwsError::Service {
                service: "s3",
                operation: "GetObject",
                message: format!("reading stopped: {error}"),
                retryable: true,
            }),
            Some((error, false)) => {
                let report = serde_json::json!({
                    "object": key,
                    "line": error.line,
                    "error": error.message,
                    "records_processed_before_error": records,
                    "run_id": run.id,
                })
                .to_string();
                tracing::warn!(run_id = %run.id, key, line = ?error.line, records, "drop quarantined");
                run.tally.quarantine(key, error.to_string());
                self.drops.finish(key, Some(&report)).await?;
                Ok(Ended::Quarantined)
            }
            None if in_flight => {
                tracing::info!(run_id = %run.id, key, records, "drop left: alerts in flight in another run");
                Ok(Ended::Left)
            }
            None => {
                let moved = self.drops.finish(key, None).await?;
                tracing::info!(run_id = %run.id, key, records, "drop processed");
                Ok(if moved == Moved::Moved { Ended::Processed } else { Ended::Gone })
            }
        }
    }

    /// Claims, audits and enqueues one batch. Returns true when some alert
    /// is in flight in another run.
    async fn commit(&self, batch: Vec<Entry>, run: &mut Run) -> Result<bool, AwsError> {
        if batch.is_empty() {
            return Ok(false);
        }
        let now = Utc::now();
        // What each entry would be if new, and the key it is claimed under.
        let mut planned = Vec::with_capacity(batch.len());
        for entry in &batch {
            run.sequence += 1;
            let event = audit::event_key(now, &run.id, run.sequence);
            let (record, claim_key) = match entry {
                Entry::Alert(assessed) => (
                    self.engine.audit(assessed, Outcome::Routed, &run.id, now),
                    assessed.fingerprint.clone(),
                ),
                Entry::Rejected(rejected) => {
                    let record = self.engine.audit_rejected(rejected, &run.id, now);
                    // A rejection is claimed per object position, so that
                    // re-reading the same object does not notify twice.
                    let key = format!(
                        "rejected#{}",
                        fingerprint::of_bytes(
                            format!("{}\n{}", record.origin, record.payload_sha256).as_bytes()
                        )
                    );
                    (record, key)
                }
            };
            planned.push((record, claim_key, event));
        }
        let claims: Vec<Result<Claim, AwsError>> = stream::iter(planned.iter())
            .map(|(record, key, event)| {
                self.dedup.claim(ClaimRequest {
                    key,
                    source: record.source.as_str(),
                    run_id: &run.id,
                    audit_event: event,
                    now,
                })
            })
            .buffered(CLAIMS_AT_ONCE)
            .collect()
            .await;

        let mut fresh_items = Vec::new();
        let mut resumed_items = Vec::new();
        let mut messages = Vec::new();
        let mut ours = Vec::new();
        let mut records: Vec<AuditRecord> = Vec::with_capacity(planned.len());
        let mut in_flight = false;
        for ((entry, (mut record, claim_key, event)), claim) in
            batch.iter().zip(planned).zip(claims)
        {
            let claim = claim?;
            let key = match &claim {
                Claim::Resumed { audit_event, .. } => AuditKey::of(&record, audit_event.clone()),
                _ => AuditKey::of(&record, event),
            };
            match claim {
                Claim::New | Claim::Resumed { .. } => {
                    for destination in &record.routed_to {
                        messages.push(DeliveryMessage::new(
                            &record,
                            &key,
                            destination,
                            self.engine.config(),
                            &self.slack_secret_prefix,
                        )?);
                    }
                    ours.push(claim_key);
                }
                Claim::Duplicate | Claim::InFlight => {
                    if claim == Claim::InFlight {
                        in_flight = true;
                        run.summary.in_flight += 1;
                    }
                    match entry {
                        Entry::Alert(assessed) => {
                            record = self.engine.audit(assessed, Outcome::Duplicate, &run.id, now);
                        }
                        // Still a rejection, but its notice went out already.
                        Entry::Rejected(_) => record.routed_to.clear(),
                    }
                }
            }
            let item = audit::item(&record, &key);
            if matches!(claim, Claim::Resumed { .. }) {
                resumed_items.push(item);
            } else {
                fresh_items.push(item);
            }
            records.push(record);
        }

        self.audit.write(fresh_items).await?;
        for item in resumed_items {
            // Present already when the first run wrote it before dying: its
            // delivery states stand and the senders skip what was sent.
            self.audit.put_if_absent(item).await?;
        }
        let sent = self.dispatcher.send(&messages).await?;
        run.summary.enqueued.slack += sent.slack;
        run.summary.enqueued.email += sent.email;
        let marked: Vec<Result<bool, AwsError>> = stream::iter(ours.iter())
            .map(|key| self.dedup.mark_enqueued(key, &run.id))
            .buffered(CLAIMS_AT_ONCE)
            .collect()
            .await;
        for (key, marked) in ours.iter().zip(marked) {
            if !marked? {
                tracing::warn!(run_id = %run.id, alert_hash = %key, "claim taken over before it was marked enqueued");
            }
        }
        for record in &records {
            run.tally.count(record);
        }
        Ok(in_flight)
    }
}

fn uuid_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}
