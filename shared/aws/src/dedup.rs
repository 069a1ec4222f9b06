//! DynamoDB dedup store: one item per fingerprint, claimed atomically, with a
//! lease so that a run that dies between claim and enqueue does not turn its
//! alerts into silent duplicates.
//!
//! Item: `alert_hash` (key), `state` (`claimed` | `enqueued`), `run_id`,
//! `audit_event` (sort key of the routed audit item the claim belongs to),
//! `claimed_at`, `first_seen_utc`, `lease_until` and `expires_at` (epoch
//! seconds; `expires_at` is the table's TTL attribute), `source`.
//!
//! A claim is a conditional put that succeeds when the fingerprint is unknown
//! or its window is over (compared in the condition, since TTL deletes late).
//! When it fails, the item tells why: `enqueued` is a duplicate; `claimed`
//! with a live lease is in flight elsewhere; `claimed` with an expired lease
//! is taken over with a second conditional write that keeps the first run's
//! `first_seen_utc` and `audit_event`, so the recovering run finishes the
//! same delivery records instead of starting new ones.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};
use triage_core::timestamp;

use crate::attr::{Item, n, number, s, text};
use crate::error::{AwsError, Result};

/// Default lease: longer than the ingest timeout (300 s), so a live run
/// never loses its claim, short enough that the next sweep but one recovers.
pub const DEFAULT_LEASE_SECONDS: i64 = 15 * 60;

const CLAIMED: &str = "claimed";
const ENQUEUED: &str = "enqueued";

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The fingerprint is ours; route it under the audit event we proposed.
    New,
    /// A run died holding this fingerprint; we took over its expired lease.
    /// Route it under the first run's audit event.
    Resumed { audit_event: String, first_seen_utc: String },
    /// Enqueued within the window, or already claimed by this same run.
    Duplicate,
    /// Claimed by another run whose lease is still live.
    InFlight,
}

/// One claim to make.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// Fingerprint (or the dedup key of a rejection).
    pub key: &'a str,
    pub source: &'a str,
    pub run_id: &'a str,
    /// Sort key the routed audit item will have if the claim is new.
    pub audit_event: &'a str,
    pub now: DateTime<Utc>,
}

/// The dedup table.
#[derive(Debug, Clone)]
pub struct DedupStore {
    client: Client,
    table: String,
    window_seconds: i64,
    lease_seconds: i64,
}

impl DedupStore {
    pub fn new(client: Client, table: impl Into<String>, window_minutes: u64) -> DedupStore {
        let window_seconds =
            i64::try_from(window_minutes).unwrap_or(i64::MAX / 120).saturating_mul(60);
        DedupStore {
            client,
            table: table.into(),
            window_seconds,
            lease_seconds: DEFAULT_LEASE_SECONDS,
        }
    }

    /// Sets the lease (tests use a short or already-expired one).
    pub fn with_lease_seconds(mut self, seconds: i64) -> DedupStore {
        self.lease_seconds = seconds;
        self
    }

    /// Claims `request.key`. Races are settled by DynamoDB: of many runs
    /// claiming one key at once, exactly one gets `New` (or `Resumed`).
    pub async fn claim(&self, request: ClaimRequest<'_>) -> Result<Claim> {
        // Each pass either decides or observes an item that changed under it;
        // three passes cover put-vs-delete and takeover-vs-takeover races.
        for _ in 0..3 {
            let existing = match self.put_new(request).await? {
                None => return Ok(Claim::New),
                Some(existing) => existing,
            };
            let Some(existing) = existing else { continue };
            let now = request.now.timestamp();
            let state = text(&existing, "state").unwrap_or_default();
            let holder = text(&existing, "run_id").unwrap_or_default();
            let lease_until = number(&existing, "lease_until").unwrap_or(0);
            if state != CLAIMED || holder == request.run_id {
                return Ok(Claim::Duplicate);
            }
            if lease_until >= now {
                return Ok(Claim::InFlight);
            }
            if self.take_over(request, holder, lease_until).await? {
                return Ok(Claim::Resumed {
                    audit_event: text(&existing, "audit_event")
                        .unwrap_or(request.audit_event)
                        .to_string(),
                    first_seen_utc: text(&existing, "first_seen_utc")
                        .unwrap_or_default()
                        .to_string(),
                });
            }
        }
        Ok(Claim::InFlight)
    }

    /// The conditional put of a fresh claim. `Ok(None)`: claimed. Otherwise
    /// the item in the way (`Some(None)` when it vanished meanwhile).
    async fn put_new(&self, request: ClaimRequest<'_>) -> Result<Option<Option<Item>>> {
        let now = request.now.timestamp();
        let at = timestamp::format(request.now);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("alert_hash", s(request.key))
            .item("state", s(CLAIMED))
            .item("run_id", s(request.run_id))
            .item("audit_event", s(request.audit_event))
            .item("claimed_at", s(&at))
            .item("first_seen_utc", s(&at))
            .item("lease_until", n(now.saturating_add(self.lease_seconds)))
            .item("expires_at", n(now.saturating_add(self.window_seconds)))
            .item("source", s(request.source))
            .condition_expression("attribute_not_exists(alert_hash) OR expires_at < :now")
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    match failed.item() {
                        Some(item) => Ok(Some(Some(item.clone()))),
                        // Emulators that do not return the old item: read it.
                        None => Ok(Some(self.get(request.key).await?)),
                    }
                }
                _ => Err(AwsError::sdk("dynamodb", "PutItem", error)),
            },
        }
    }

    /// Takes over a claim whose lease expired. False when another run did first.
    async fn take_over(
        &self,
        request: ClaimRequest<'_>,
        holder: &str,
        lease_until: i64,
    ) -> Result<bool> {
        let now = request.now.timestamp();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("alert_hash", s(request.key))
            .update_expression("SET run_id = :run, lease_until = :lease, claimed_at = :at")
            .condition_expression(
                "#state = :claimed AND run_id = :holder AND lease_until = :old_lease",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":run", s(request.run_id))
            .expression_attribute_values(":lease", n(now.saturating_add(self.lease_seconds)))
            .expression_attribute_values(":at", s(timestamp::format(request.now)))
            .expression_attribute_values(":claimed", s(CLAIMED))
            .expression_attribute_values(":holder", s(holder))
            .expression_attribute_values(":old_lease", n(lease_until))
            .send()
            .await;
        match result {
            Ok(_) => {
                tracing::warn!(
                    run_id = request.run_id,
                    previous_run = holder,
                    "expired claim taken over"
                );
                Ok(true)
            }
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(AwsError::sdk("dynamodb", "UpdateItem", error)),
        }
    }

    /// Marks a claim done once its audit items and messages are written.
    /// Returns false when the claim is no longer ours (our lease ran out and
    /// another run took it over; it will finish the same deliveries).
    pub async fn mark_enqueued(&self, key: &str, run_id: &str) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("alert_hash", s(key))
            .update_expression("SET #state = :enqueued REMOVE lease_until")
            .condition_expression("run_id = :run AND #state = :claimed")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":enqueued", s(ENQUEUED))
            .expression_attribute_values(":claimed", s(CLAIMED))
            .expression_attribute_values(":run", s(run_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(AwsError::sdk("dynamodb", "UpdateItem", error)),
        }
    }

    /// The dedup item of `key`, read consistently.
    pub async fn get(&self, key: &str) -> Result<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("alert_hash", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::sdk("dynamodb", "GetItem", e))?;
        Ok(output.item)
    }

    /// The state (`claimed` or `enqueued`) of `key`, if it has an item.
    pub async fn state(&self, key: &str) -> Result<Option<String>> {
        Ok(self.get(key).await?.and_then(|item| text(&item, "state").map(str::to_string)))
    }
}

fn is_condition_failure<R>(error: &aws_sdk_dynamodb::error::SdkError<UpdateItemError, R>) -> bool {
    error.as_service_error().is_some_and(UpdateItemError::is_conditional_check_failed_exception)
}
