//! SES e-mail transport: one SendEmail per delivery message, plain text,
//! subject from the notice (already one line, no CR/LF).

use aws_sdk_ses::Client;
use aws_sdk_ses::types::{Body, Content, Destination, Message};

use crate::deliver::Transport;
use crate::error::{AwsError, Result};
use crate::queue::DeliveryMessage;

/// Sends alert e-mails from one verified address.
#[derive(Debug, Clone)]
pub struct SesTransport {
    client: Client,
    sender: String,
}

impl SesTransport {
    pub fn new(client: Client, sender: impl Into<String>) -> SesTransport {
        SesTransport { client, sender: sender.into() }
    }
}

impl Transport for SesTransport {
    async fn send(&self, message: &DeliveryMessage) -> Result<()> {
        if message.recipients.is_empty() {
            return Err(AwsError::Malformed {
                what: "e-mail message",
                message: "no recipients".into(),
            });
        }
        let text =
            |data: String| {
                Content::builder().data(data).charset("UTF-8").build().map_err(|e| {
                    AwsError::Malformed { what: "e-mail message", message: e.to_string() }
                })
            };
        let email = Message::builder()
            .subject(text(message.notice.email_subject())?)
            .body(Body::builder().text(text(message.notice.email_body())?).build())
            .build();
        self.client
            .send_email()
            .source(&self.sender)
            .destination(
                Destination::builder().set_to_addresses(Some(message.recipients.clone())).build(),
            )
            .message(email)
            .send()
            .await
            .map_err(|e| AwsError::sdk("ses", "SendEmail", e))?;
        Ok(())
    }
}
