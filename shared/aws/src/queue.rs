//! The delivery message (the body of every SQS message) and the dispatcher
//! that sends them: SendMessageBatch, at most 10 entries and 256 KiB per
//! call, failed entries retried a bounded number of times.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::{Deserialize, Serialize};
use triage_core::route::Channel;
use triage_core::{AuditRecord, Config, Notice};

use crate::audit::{AuditKey, backoff};
use crate::error::{AwsError, Result};

/// Entries per SendMessageBatch call (the service limit).
const BATCH_ENTRIES: usize = 10;
/// Bytes per SendMessageBatch call (the service limit is 256 KiB).
const BATCH_BYTES: usize = 256 * 1024;
/// Attempts at sending the failed entries of a batch.
const SEND_ATTEMPTS: u32 = 5;
/// Longest title or line value carried in a message; senders clip shorter.
const CARRIED_CHARS: usize = 2000;

/// What a sender needs to deliver one notice and record the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMessage {
    /// The audit item whose `deliveries.<destination>` records the result.
    pub audit: AuditKey,
    #[serde(flatten)]
    pub notice: Notice,
    /// E-mail: the destination's addresses, resolved from the config at
    /// routing time (only ingest reads the config).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// Slack: full Secrets Manager name of the channel's webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl DeliveryMessage {
    /// The message for `destination` of `record`, written under `audit`.
    pub fn new(
        record: &AuditRecord,
        audit: &AuditKey,
        destination: &str,
        config: &Config,
        slack_secret_prefix: &str,
    ) -> Result<DeliveryMessage> {
        let mut notice = Notice::new(record, destination);
        notice.title = clip(&notice.title);
        for (_, value) in &mut notice.lines {
            *value = clip(value);
        }
        let spec = config.file.destinations.get(destination);
        let unknown = || AwsError::Config {
            location: format!("destinations.{destination}"),
            message: "the routing names a destination the config does not define".into(),
        };
        let (recipients, webhook_secret) = match Channel::of(destination) {
            Some(Channel::Email) => (spec.ok_or_else(unknown)?.addresses.clone(), None),
            Some(Channel::Slack) => {
                let channel = destination.split_once(':').map_or(destination, |(_, c)| c);
                let name = spec.and_then(|s| s.webhook_secret.as_deref()).unwrap_or(channel);
                (Vec::new(), Some(format!("{slack_secret_prefix}{name}")))
            }
            None => return Err(unknown()),
        };
        Ok(DeliveryMessage { audit: audit.clone(), notice, recipients, webhook_secret })
    }

    pub fn channel(&self) -> Option<Channel> {
        Channel::of(&self.notice.destination)
    }
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(CARRIED_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Messages sent, per queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sent {
    pub slack: u64,
    pub email: u64,
}

/// Sends delivery messages to the Slack and e-mail queues.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    client: Client,
    slack_queue_url: String,
    email_queue_url: String,
}

impl Dispatcher {
    pub fn new(
        client: Client,
        slack_queue_url: impl Into<String>,
        email_queue_url: impl Into<String>,
    ) -> Self {
        Dispatcher {
            client,
            slack_queue_url: slack_queue_url.into(),
            email_queue_url: email_queue_url.into(),
        }
    }

    /// Sends every message to its channel's queue. An error means some may
    /// not have been sent; the claims stay open and a later run resends.
    pub async fn send(&self, messages: &[DeliveryMessage]) -> Result<Sent> {
        let mut slack = Vec::new();
        let mut email = Vec::new();
        for message in messages {
            let body = serde_json::to_string(message).map_err(|e| AwsError::Malformed {
                what: "delivery message",
                message: e.to_string(),
            })?;
            match message.channel() {
                Some(Channel::Slack) => slack.push(body),
                Some(Channel::Email) => email.push(body),
                None => {
                    return Err(AwsError::Malformed {
                        what: "delivery message",
                        message: format!(
                            "{:?} is not a slack: or email: destination",
                            message.notice.destination
                        ),
                    });
                }
            }
        }
        let sent = Sent { slack: slack.len() as u64, email: email.len() as u64 };
        self.send_bodies(&self.slack_queue_url, slack).await?;
        self.send_bodies(&self.email_queue_url, email).await?;
        Ok(sent)
    }

    async fn send_bodies(&self, queue_url: &str, bodies: Vec<String>) -> Result<()> {
        let mut batch: Vec<String> = Vec::new();
        let mut bytes = 0;
        for body in bodies {
            if body.len() > BATCH_BYTES {
                return Err(AwsError::Malformed {
                    what: "delivery message",
                    message: format!("{} bytes is over the SQS limit", body.len()),
                });
            }
            if batch.len() == BATCH_ENTRIES || bytes + body.len() > BATCH_BYTES {
                self.send_batch(queue_url, std::mem::take(&mut batch)).await?;
                bytes = 0;
            }
            bytes += body.len();
            batch.push(body);
        }
        if !batch.is_empty() {
            self.send_batch(queue_url, batch).await?;
        }
        Ok(())
    }

    /// One SendMessageBatch, retrying the entries SQS reports as failed.
    async fn send_batch(&self, queue_url: &str, bodies: Vec<String>) -> Result<()> {
        let mut pending: Vec<(String, String)> =
            bodies.into_iter().enumerate().map(|(i, body)| (i.to_string(), body)).collect();
        for attempt in 0..SEND_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let entries = pending
                .iter()
                .map(|(id, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body)
                        .build()
                        .map_err(|e| AwsError::Malformed {
                            what: "delivery message",
                            message: e.to_string(),
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| AwsError::sdk("sqs", "SendMessageBatch", e))?;
            if output.failed.is_empty() {
                return Ok(());
            }
            if let Some(fault) = output.failed.iter().find(|f| f.sender_fault) {
                return Err(AwsError::Service {
                    service: "sqs",
                    operation: "SendMessageBatch",
                    message: format!(
                        "{}: {}",
                        fault.code,
                        fault.message.as_deref().unwrap_or("rejected")
                    ),
                    retryable: false,
                });
            }
            let failed: Vec<&str> = output.failed.iter().map(|f| f.id.as_str()).collect();
            tracing::warn!(failed = failed.len(), attempt, "queue batch partly failed");
            pending.retain(|(id, _)| failed.contains(&id.as_str()));
        }
        Err(AwsError::Exhausted {
            operation: "SendMessageBatch",
            attempts: SEND_ATTEMPTS,
            message: format!("{} messages not accepted", pending.len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use triage_core::Engine;

    use super::*;

    #[test]
    fn slack_messages_name_the_prefixed_secret_and_email_messages_the_addresses() {
        let engine = Engine::new(Config::default());
        let origin =
            triage_core::Origin { object: "incoming/x.csv".into(), line: Some(2), index: 0 };
        let rejected = triage_core::Rejected::new(triage_core::Source::Csv, origin, "bad");
        let record = engine.audit_rejected(&rejected, "run-1", Utc::now());
        let key = AuditKey { alert_hash: "h".into(), event: "e".into() };
        let email = DeliveryMessage::new(
            &record,
            &key,
            "email:compliance",
            engine.config(),
            "triage/slack/",
        )
        .unwrap();
        assert_eq!(email.recipients, vec!["compliance@example.com".to_string()]);
        let slack = DeliveryMessage::new(
            &record,
            &key,
            "slack:compliance-high",
            engine.config(),
            "triage/slack/",
        )
        .unwrap();
        assert_eq!(slack.webhook_secret.as_deref(), Some("triage/slack/compliance-high"));
        let body = serde_json::to_string(&slack).unwrap();
        let back: DeliveryMessage = serde_json::from_str(&body).unwrap();
        assert_eq!(back, slack);
        assert!(
            DeliveryMessage::new(&record, &key, "email:nobody", engine.config(), "p/").is_err()
        );
    }
}
