//! The sender side, shared by the Slack and e-mail functions: one SQS batch
//! in, one result per message out (`batchItemFailures`, which needs
//! `FunctionResponseTypes: ReportBatchItemFailures` on the event source
//! mapping, as the template sets).
//!
//! Each delivery is idempotent per (audit item, destination): the ledger
//! moves it to `sending` under a lease before anything is sent, skips it when
//! it is already `sent`, and records `sent` or `failed` afterwards.

use std::future::Future;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use serde::Serialize;
use triage_core::route::Channel;

use crate::audit::{AuditKey, AuditLog, Begin};
use crate::error::{AwsError, Result};
use crate::queue::DeliveryMessage;

/// Sends one delivery message (to Slack, or by e-mail).
pub trait Transport {
    fn send(&self, message: &DeliveryMessage) -> impl Future<Output = Result<()>> + Send;
}

/// Where delivery states are kept (the audit table).
pub trait Ledger {
    fn begin(
        &self,
        key: &AuditKey,
        destination: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Begin>> + Send;
    fn finish(
        &self,
        key: &AuditKey,
        destination: &str,
        token: &str,
        outcome: std::result::Result<DateTime<Utc>, String>,
    ) -> impl Future<Output = Result<bool>> + Send;
    fn dry_run(&self, key: &AuditKey, destination: &str)
    -> impl Future<Output = Result<()>> + Send;
}

impl Ledger for AuditLog {
    async fn begin(&self, key: &AuditKey, destination: &str, now: DateTime<Utc>) -> Result<Begin> {
        self.begin_delivery(key, destination, now).await
    }

    async fn finish(
        &self,
        key: &AuditKey,
        destination: &str,
        token: &str,
        outcome: std::result::Result<DateTime<Utc>, String>,
    ) -> Result<bool> {
        self.finish_delivery(key, destination, token, outcome).await
    }

    async fn dry_run(&self, key: &AuditKey, destination: &str) -> Result<()> {
        self.record_dry_run(key, destination).await
    }
}

/// What happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivered {
    Sent,
    /// Already sent by an earlier delivery of the same message.
    Skipped,
    DryRun,
}

/// Delivers every message of `event` that belongs to `channel`; returns the
/// ids of the messages that failed and should be received again.
pub async fn handle_batch<L: Ledger, T: Transport>(
    event: SqsEvent,
    channel: Channel,
    ledger: &L,
    transport: &T,
    dry_run: bool,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        match deliver(record, channel, ledger, transport, dry_run).await {
            Ok((message, delivered)) => tracing::info!(
                message_id = %id,
                destination = %message.notice.destination,
                alert_hash = message.notice.alert_hash.as_deref().unwrap_or("rejected"),
                outcome = ?delivered,
                "delivery done"
            ),
            Err(error) => {
                tracing::warn!(message_id = %id, error = %error, retryable = error.retryable(), "delivery failed");
                response.add_failure(id);
            }
        }
    }
    response
}

async fn deliver<L: Ledger, T: Transport>(
    record: &SqsMessage,
    channel: Channel,
    ledger: &L,
    transport: &T,
    dry_run: bool,
) -> Result<(DeliveryMessage, Delivered)> {
    let body = record.body.as_deref().unwrap_or_default();
    let message: DeliveryMessage = serde_json::from_str(body)
        .map_err(|e| AwsError::Malformed { what: "queue message", message: e.to_string() })?;
    if message.channel() != Some(channel) {
        return Err(AwsError::Malformed {
            what: "queue message",
            message: format!("{} does not belong on this queue", message.notice.destination),
        });
    }
    let destination = message.notice.destination.clone();
    if dry_run {
        ledger.dry_run(&message.audit, &destination).await?;
        return Ok((message, Delivered::DryRun));
    }
    let token = match ledger.begin(&message.audit, &destination, Utc::now()).await? {
        Begin::Send { token, .. } => token,
        Begin::AlreadyDone { .. } => return Ok((message, Delivered::Skipped)),
        Begin::Busy => {
            return Err(AwsError::Exhausted {
                operation: "delivery",
                attempts: 0,
                message: "another sender holds this delivery; retry later".into(),
            });
        }
    };
    match transport.send(&message).await {
        Ok(()) => {
            ledger.finish(&message.audit, &destination, &token, Ok(Utc::now())).await?;
            Ok((message, Delivered::Sent))
        }
        Err(error) => {
            // The send failed: record it, then report the message as failed
            // whatever the recording did, so SQS tries again.
            if let Err(record_error) =
                ledger.finish(&message.audit, &destination, &token, Err(error.to_string())).await
            {
                tracing::warn!(error = %record_error, "cannot record the failed delivery");
            }
            Err(error)
        }
    }
}
