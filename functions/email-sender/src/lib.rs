//! The email sender function: delivers the messages of the email queue and
//! records each result in the audit table. `main.rs` only wires; [`handle`]
//! is what Lambda (and the tests) call.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use triage_aws::email::SesTransport;
use triage_aws::error::AwsError;
use triage_aws::{AuditLog, Clients, Settings, handle_batch};
use triage_core::route::Channel;

/// The adapters of one sender function, built once per cold start.
#[derive(Debug)]
pub struct EmailSender {
    pub audit: AuditLog,
    pub transport: SesTransport,
    pub dry_run: bool,
}

impl EmailSender {
    pub fn from_settings(settings: &Settings, clients: &Clients) -> Result<EmailSender, AwsError> {
        Ok(EmailSender {
            audit: AuditLog::new(clients.dynamodb.clone(), &settings.audit_table),
            transport: SesTransport::new(clients.ses.clone(), &settings.email_sender),
            dry_run: settings.dry_run,
        })
    }
}

/// Handles one SQS batch; the response names exactly the failed messages.
pub async fn handle(app: &EmailSender, event: SqsEvent) -> SqsBatchResponse {
    handle_batch(event, Channel::Email, &app.audit, &app.transport, app.dry_run).await
}
