//! DynamoDB audit log: one item per input alert per run, keyed by
//! `alert_hash` (the fingerprint, or `rejected#<payload_sha256>` for a
//! rejection) and a unique `event` sort key. Each item carries a
//! `deliveries` map, `{destination: {state, attempts, sent_at, error}}`, whose
//! conditional updates make the senders idempotent per (alert, destination).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use triage_core::AuditRecord;
use triage_core::timestamp;

use crate::attr::{Item, n, number, s, text};
use crate::error::{AwsError, Result};

/// Items per BatchWriteItem call (the service limit).
const BATCH: usize = 25;
/// Attempts at writing the unprocessed rest of a batch.
const BATCH_ATTEMPTS: u32 = 8;
/// Payload bytes kept in an item (DynamoDB items hold at most 400 KB).
const MAX_PAYLOAD_BYTES: usize = 300 * 1024;
/// How long a sender owns a delivery it is sending.
const SENDING_LEASE_SECONDS: i64 = 120;

/// Delivery states stored in `deliveries.<destination>.state`.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const SENDING: &str = "sending";
    pub const SENT: &str = "sent";
    pub const FAILED: &str = "failed";
    pub const DRY_RUN: &str = "dry_run";
}

/// The key of one audit item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuditKey {
    pub alert_hash: String,
    pub event: String,
}

impl AuditKey {
    /// The key of `record` written under sort key `event`.
    pub fn of(record: &AuditRecord, event: impl Into<String>) -> AuditKey {
        let alert_hash = match &record.alert_hash {
            Some(hash) => hash.clone(),
            None => format!("rejected#{}", record.payload_sha256),
        };
        AuditKey { alert_hash, event: event.into() }
    }
}

/// A unique sort key: triage time, run and the record's position in the run.
pub fn event_key(triaged_at: DateTime<Utc>, run_id: &str, sequence: u64) -> String {
    format!("{}#{}#{:08}", timestamp::format(triaged_at), run_id, sequence)
}

/// The audit item of `record`; every destination starts `pending`.
pub fn item(record: &AuditRecord, key: &AuditKey) -> Item {
    let mut item = Item::new();
    item.insert("alert_hash".into(), s(&key.alert_hash));
    item.insert("event".into(), s(&key.event));
    if let Some(hash) = &record.alert_hash {
        item.insert("fingerprint".into(), s(hash));
    }
    item.insert("outcome".into(), s(record.outcome.as_str()));
    if let Some(severity) = record.severity {
        item.insert("severity".into(), s(severity.as_str()));
    }
    item.insert("rule".into(), s(&record.rule));
    item.insert("source".into(), s(record.source.as_str()));
    item.insert("routed_to".into(), s(record.routed_to_text()));
    item.insert("created_at_utc".into(), s(timestamp::format(record.created_at_utc)));
    item.insert("triaged_at_utc".into(), s(timestamp::format(record.triaged_at_utc)));
    item.insert("sla_seconds".into(), n(record.sla_seconds));
    item.insert("created_at_missing".into(), AttributeValue::Bool(record.created_at_missing));
    let payload = clip_bytes(&record.payload, MAX_PAYLOAD_BYTES);
    if payload.len() < record.payload.len() {
        item.insert("payload_truncated".into(), AttributeValue::Bool(true));
    }
    item.insert("payload".into(), s(payload));
    item.insert("payload_sha256".into(), s(&record.payload_sha256));
    item.insert("origin".into(), s(&record.origin));
    if let Some(reason) = &record.reason {
        item.insert("reason".into(), s(reason));
    }
    item.insert("run_id".into(), s(&record.run_id));
    item.insert("config_hash".into(), s(&record.config_hash));
    let deliveries = record
        .routed_to
        .iter()
        .map(|destination| {
            let entry = [("state".to_string(), s(state::PENDING)), ("attempts".to_string(), n(0))];
            (destination.clone(), AttributeValue::M(entry.into_iter().collect()))
        })
        .collect();
    item.insert("deliveries".into(), AttributeValue::M(deliveries));
    item
}

fn clip_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Why a sender may or may not send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// This sender owns the delivery now (`attempts` includes this one).
    Send { token: String, attempts: u32 },
    /// Already sent (or recorded as a dry run): succeed without sending.
    AlreadyDone { state: String },
    /// Another sender holds a live `sending` lease: try again later.
    Busy,
}

/// The audit table.
#[derive(Debug, Clone)]
pub struct AuditLog {
    client: Client,
    table: String,
}

impl AuditLog {
    pub fn new(client: Client, table: impl Into<String>) -> AuditLog {
        AuditLog { client, table: table.into() }
    }

    /// Writes items 25 per call, retrying unprocessed items with backoff.
    pub async fn write(&self, items: Vec<Item>) -> Result<()> {
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let chunk: Vec<WriteRequest> = items
                .by_ref()
                .take(BATCH)
                .map(|item| {
                    let put = PutRequest::builder().set_item(Some(item)).build().map_err(|e| {
                        AwsError::Malformed { what: "audit item", message: e.to_string() }
                    })?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<_>>()?;
            self.write_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn write_chunk(&self, mut requests: Vec<WriteRequest>) -> Result<()> {
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|e| AwsError::sdk("dynamodb", "BatchWriteItem", e))?;
            requests = output
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tracing::warn!(unprocessed = requests.len(), attempt, "audit batch partly unprocessed");
        }
        Err(AwsError::Exhausted {
            operation: "BatchWriteItem",
            attempts: BATCH_ATTEMPTS,
            message: format!("{} audit items still unprocessed", requests.len()),
        })
    }

    /// Writes `item` unless an item with its key exists. A run finishing an
    /// expired claim uses this, so the first run's delivery states survive.
    pub async fn put_if_absent(&self, item: Item) -> Result<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(alert_hash)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::sdk("dynamodb", "PutItem", e)),
        }
    }

    /// Reads one item (consistently).
    pub async fn get(&self, key: &AuditKey) -> Result<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("alert_hash", s(&key.alert_hash))
            .key("event", s(&key.event))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::sdk("dynamodb", "GetItem", e))?;
        Ok(output.item)
    }

    /// Moves `destination` of `key` to `sending` when it is pending, failed,
    /// or held by a sender whose lease ran out.
    pub async fn begin_delivery(
        &self,
        key: &AuditKey,
        destination: &str,
        now: DateTime<Utc>,
    ) -> Result<Begin> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let result = self
            .update_delivery(key, destination)
            .update_expression(
                "SET deliveries.#d.#st = :sending, deliveries.#d.#lu = :lease, deliveries.#d.#tk = :token, \
                 deliveries.#d.#at = deliveries.#d.#at + :one",
            )
            .condition_expression(
                "deliveries.#d.#st = :pending OR deliveries.#d.#st = :failed \
                 OR (deliveries.#d.#st = :sending AND deliveries.#d.#lu < :now)",
            )
            .expression_attribute_names("#lu", "lease_until")
            .expression_attribute_names("#tk", "token")
            .expression_attribute_names("#at", "attempts")
            .expression_attribute_values(":sending", s(state::SENDING))
            .expression_attribute_values(":pending", s(state::PENDING))
            .expression_attribute_values(":failed", s(state::FAILED))
            .expression_attribute_values(":lease", n(now.timestamp() + SENDING_LEASE_SECONDS))
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":token", s(&token))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let attempts = output
                    .attributes
                    .as_ref()
                    .and_then(|item| delivery(item, destination))
                    .and_then(|d| number(d, "attempts"))
                    .unwrap_or(1);
                Ok(Begin::Send { token, attempts: u32::try_from(attempts).unwrap_or(u32::MAX) })
            }
            Err(error) => {
                let failed = match error.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        failed.item().cloned()
                    }
                    _ => return Err(AwsError::sdk("dynamodb", "UpdateItem", error)),
                };
                let item = match failed {
                    Some(item) => Some(item),
                    None => self.get(key).await?,
                };
                let Some(item) = item else {
                    return Err(AwsError::Malformed {
                        what: "delivery",
                        message: format!("no audit item {}/{}", key.alert_hash, key.event),
                    });
                };
                let Some(entry) = delivery(&item, destination) else {
                    return Err(AwsError::Malformed {
                        what: "delivery",
                        message: format!("the audit item does not route to {destination}"),
                    });
                };
                match text(entry, "state").unwrap_or_default() {
                    state::SENDING => Ok(Begin::Busy),
                    // Pending or failed but the condition failed: it changed
                    // under us; the next delivery attempt will see it.
                    state::PENDING | state::FAILED => Ok(Begin::Busy),
                    other => Ok(Begin::AlreadyDone { state: other.to_string() }),
                }
            }
        }
    }

    /// Records the result of a send this sender began (`token`). Returns
    /// false if another sender took the delivery over meanwhile.
    pub async fn finish_delivery(
        &self,
        key: &AuditKey,
        destination: &str,
        token: &str,
        outcome: std::result::Result<DateTime<Utc>, String>,
    ) -> Result<bool> {
        let request = self
            .update_delivery(key, destination)
            .condition_expression("deliveries.#d.#tk = :token")
            .expression_attribute_names("#lu", "lease_until")
            .expression_attribute_names("#tk", "token")
            .expression_attribute_values(":token", s(token));
        let request = match outcome {
            Ok(sent_at) => request
                .update_expression(
                    "SET deliveries.#d.#st = :state, deliveries.#d.#x = :at REMOVE deliveries.#d.#lu",
                )
                .expression_attribute_names("#x", "sent_at")
                .expression_attribute_values(":state", s(state::SENT))
                .expression_attribute_values(":at", s(timestamp::format(sent_at))),
            Err(error) => request
                .update_expression(
                    "SET deliveries.#d.#st = :state, deliveries.#d.#x = :error REMOVE deliveries.#d.#lu",
                )
                .expression_attribute_names("#x", "error")
                .expression_attribute_values(":state", s(state::FAILED))
                .expression_attribute_values(":error", s(error)),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::sdk("dynamodb", "UpdateItem", e)),
        }
    }

    /// An UpdateItem on `deliveries.<destination>` of the item at `key`, with
    /// `#d` naming the destination and `#st` its state.
    fn update_delivery(&self, key: &AuditKey, destination: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("alert_hash", s(&key.alert_hash))
            .key("event", s(&key.event))
            .expression_attribute_names("#d", destination)
            .expression_attribute_names("#st", "state")
    }

    /// Dry run: records `dry_run` for a pending or failed delivery.
    pub async fn record_dry_run(&self, key: &AuditKey, destination: &str) -> Result<()> {
        let result = self
            .update_delivery(key, destination)
            .update_expression("SET deliveries.#d.#st = :dry")
            .condition_expression("deliveries.#d.#st = :pending OR deliveries.#d.#st = :failed")
            .expression_attribute_values(":dry", s(state::DRY_RUN))
            .expression_attribute_values(":pending", s(state::PENDING))
            .expression_attribute_values(":failed", s(state::FAILED))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                // Recorded before (a redelivery): nothing to do. No item at
                // all means the message points nowhere: say so.
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    match failed.item().map(|item| delivery(item, destination).is_some()) {
                        Some(true) => Ok(()),
                        _ => Err(AwsError::Malformed {
                            what: "delivery message",
                            message: format!(
                                "no audit item {}/{} with a delivery to {destination}",
                                key.alert_hash, key.event
                            ),
                        }),
                    }
                }
                _ => Err(AwsError::sdk("dynamodb", "UpdateItem", e)),
            },
        }
    }
}

/// `deliveries.<destination>` of an item.
pub fn delivery<'a>(item: &'a Item, destination: &str) -> Option<&'a Item> {
    item.get("deliveries")?.as_m().ok()?.get(destination)?.as_m().ok()
}

/// Exponential backoff: 50 ms doubling, at most 2 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((50u64 << attempt.min(6)).min(2000))
}

#[cfg(test)]
mod tests {
    use triage_core::{Config, Engine, Outcome};

    use super::*;

    #[test]
    fn rejected_records_are_keyed_by_payload_hash_and_start_pending() {
        let engine = Engine::new(Config::default());
        let origin =
            triage_core::Origin { object: "incoming/x.csv".into(), line: Some(2), index: 0 };
        let rejected =
            triage_core::Rejected::new(triage_core::Source::Csv, origin, "bad").raw("a,b");
        let now = Utc::now();
        let record = engine.audit_rejected(&rejected, "run-1", now);
        assert_eq!(record.outcome, Outcome::Rejected);
        let key = AuditKey::of(&record, event_key(now, "run-1", 7));
        assert_eq!(key.alert_hash, format!("rejected#{}", record.payload_sha256));
        assert!(key.event.ends_with("#run-1#00000007"));
        let item = item(&record, &key);
        let entry = delivery(&item, "email:compliance").unwrap();
        assert_eq!(text(entry, "state"), Some("pending"));
        assert_eq!(number(entry, "attempts"), Some(0));
        assert!(!item.contains_key("fingerprint"));
    }

    #[test]
    fn oversized_payloads_are_clipped_on_a_char_boundary() {
        let text = "é".repeat(10);
        assert_eq!(clip_bytes(&text, 5), "éé");
    }
}
