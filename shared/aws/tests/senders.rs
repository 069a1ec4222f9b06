//! The sender handler over the SQS samples in `events/`, with an in-memory
//! ledger and transport: partial batch failures, idempotent redelivery, dry
//! run, and messages on the wrong queue.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lambda_events::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use triage_aws::audit::{AuditKey, Begin, state};
use triage_aws::error::{AwsError, Result};
use triage_aws::queue::DeliveryMessage;
use triage_aws::{Ledger, Transport, handle_batch};
use triage_core::route::Channel;

fn sample(name: &str) -> SqsEvent {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn failed_ids(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

/// Delivery states by (audit key, destination); unknown ones start pending.
#[derive(Default)]
struct FakeLedger {
    states: Mutex<HashMap<(AuditKey, String), String>>,
}

impl FakeLedger {
    fn state(&self, message: &DeliveryMessage) -> Option<String> {
        let key = (message.audit.clone(), message.notice.destination.clone());
        self.states.lock().unwrap().get(&key).cloned()
    }
}

impl Ledger for FakeLedger {
    async fn begin(&self, key: &AuditKey, destination: &str, _now: DateTime<Utc>) -> Result<Begin> {
        let mut states = self.states.lock().unwrap();
        let entry = states
            .entry((key.clone(), destination.to_string()))
            .or_insert_with(|| state::PENDING.into());
        match entry.as_str() {
            state::PENDING | state::FAILED => {
                *entry = state::SENDING.into();
                Ok(Begin::Send { token: "t".into(), attempts: 1 })
            }
            state::SENDING => Ok(Begin::Busy),
            other => Ok(Begin::AlreadyDone { state: other.into() }),
        }
    }

    async fn finish(
        &self,
        key: &AuditKey,
        destination: &str,
        _token: &str,
        outcome: std::result::Result<DateTime<Utc>, String>,
    ) -> Result<bool> {
        let next = if outcome.is_ok() { state::SENT } else { state::FAILED };
        self.states.lock().unwrap().insert((key.clone(), destination.to_string()), next.into());
        Ok(true)
    }

    async fn dry_run(&self, key: &AuditKey, destination: &str) -> Result<()> {
        self.states
            .lock()
            .unwrap()
            .insert((key.clone(), destination.to_string()), state::DRY_RUN.into());
        Ok(())
    }
}

/// Records what it sends; fails for destinations listed in `failing`.
#[derive(Default)]
struct FakeTransport {
    sent: Mutex<Vec<DeliveryMessage>>,
    failing: Vec<String>,
}

impl Transport for FakeTransport {
    async fn send(&self, message: &DeliveryMessage) -> Result<()> {
        if self.failing.contains(&message.notice.destination) {
            return Err(AwsError::Slack {
                destination: message.notice.destination.clone(),
                message: "slack answered 500".into(),
                retryable: true,
            });
        }
        self.sent.lock().unwrap().push(message.clone());
        Ok(())
    }
}

#[tokio::test]
async fn every_slack_sample_is_sent_once_even_when_redelivered() {
    let (ledger, transport) = (FakeLedger::default(), FakeTransport::default());
    let response =
        handle_batch(sample("sqs-slack.json"), Channel::Slack, &ledger, &transport, false).await;
    assert!(failed_ids(&response).is_empty());
    let destinations: Vec<String> =
        transport.sent.lock().unwrap().iter().map(|m| m.notice.destination.clone()).collect();
    assert_eq!(
        destinations,
        ["slack:compliance-high", "slack:compliance-critical", "slack:compliance-info"]
    );

    let again =
        handle_batch(sample("sqs-slack.json"), Channel::Slack, &ledger, &transport, false).await;
    assert!(failed_ids(&again).is_empty());
    assert_eq!(transport.sent.lock().unwrap().len(), 3, "a redelivered message is not sent again");
}

#[tokio::test]
async fn a_poisoned_message_fails_alone() {
    let (ledger, transport) = (FakeLedger::default(), FakeTransport::default());
    let response =
        handle_batch(sample("sqs-slack-poisoned.json"), Channel::Slack, &ledger, &transport, false)
            .await;
    assert_eq!(failed_ids(&response), ["56e56c3d-86d5-43de-995d-c91d0d4c926c"]);
    assert_eq!(transport.sent.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_failed_send_is_recorded_and_reported() {
    let ledger = FakeLedger::default();
    let transport =
        FakeTransport { failing: vec!["slack:compliance-critical".into()], ..Default::default() };
    let event = sample("sqs-slack.json");
    let response = handle_batch(event.clone(), Channel::Slack, &ledger, &transport, false).await;
    assert_eq!(failed_ids(&response), ["56e56c3d-86d5-43de-995d-c91d0d4c926c"]);
    let body = event.records[1].body.as_deref().unwrap();
    let message: DeliveryMessage = serde_json::from_str(body).unwrap();
    assert_eq!(ledger.state(&message).as_deref(), Some(state::FAILED));
}

#[tokio::test]
async fn email_samples_are_sent_and_refused_on_the_slack_queue() {
    let (ledger, transport) = (FakeLedger::default(), FakeTransport::default());
    let response =
        handle_batch(sample("sqs-email.json"), Channel::Email, &ledger, &transport, false).await;
    assert!(failed_ids(&response).is_empty());
    let sent = transport.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|m| m.recipients == ["compliance@example.com"]));
    assert_eq!(sent[2].notice.alert_hash, None, "the third sample is a rejected row");
    assert!(sent[2].audit.alert_hash.starts_with("rejected#"));

    let wrong =
        handle_batch(sample("sqs-email.json"), Channel::Slack, &ledger, &transport, false).await;
    assert_eq!(failed_ids(&wrong).len(), 3);
}

#[tokio::test]
async fn dry_run_records_and_sends_nothing() {
    let (ledger, transport) = (FakeLedger::default(), FakeTransport::default());
    let event = sample("sqs-email.json");
    let response = handle_batch(event.clone(), Channel::Email, &ledger, &transport, true).await;
    assert!(failed_ids(&response).is_empty());
    assert!(transport.sent.lock().unwrap().is_empty());
    for record in &event.records {
        let message: DeliveryMessage =
            serde_json::from_str(record.body.as_deref().unwrap()).unwrap();
        assert_eq!(ledger.state(&message).as_deref(), Some(state::DRY_RUN));
    }
}
