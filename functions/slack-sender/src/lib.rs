//! The slack sender function: delivers the messages of the slack queue and
//! records each result in the audit table. `main.rs` only wires; [`handle`]
//! is what Lambda (and the tests) call.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use triage_aws::error::AwsError;
use triage_aws::secrets::Secrets;
use triage_aws::slack::SlackTransport;
use triage_aws::{AuditLog, Clients, Settings, handle_batch};
use triage_core::route::Channel;

/// The adapters of one sender function, built once per cold start.
#[derive(Debug)]
pub struct SlackSender {
    pub audit: AuditLog,
    pub transport: SlackTransport,
    pub dry_run: bool,
}

impl SlackSender {
    pub fn from_settings(settings: &Settings, clients: &Clients) -> Result<SlackSender, AwsError> {
        Ok(SlackSender {
            audit: AuditLog::new(clients.dynamodb.clone(), &settings.audit_table),
            transport: SlackTransport::new(Secrets::new(
                clients.secrets.clone(),
                &settings.slack_secret_prefix,
            ))?,
            dry_run: settings.dry_run,
        })
    }
}

/// Handles one SQS batch; the response names exactly the failed messages.
pub async fn handle(app: &SlackSender, event: SqsEvent) -> SqsBatchResponse {
    handle_batch(event, Channel::Slack, &app.audit, &app.transport, app.dry_run).await
}
