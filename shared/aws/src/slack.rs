//! Slack incoming-webhook transport: one webhook per channel, its URL read
//! from Secrets Manager. Redirects are not followed, 429 `Retry-After` is
//! honoured, 5xx backs off; no error text ever contains the URL.

use std::time::Duration;

use reqwest::StatusCode;

use crate::deliver::Transport;
use crate::error::{AwsError, Result};
use crate::queue::DeliveryMessage;
use crate::secrets::Secrets;

/// Attempts per message within one invocation; SQS redelivers after that.
const ATTEMPTS: u32 = 3;
/// Longest `Retry-After` waited for inside an invocation.
const MAX_WAIT: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(10);

/// Posts notices to Slack.
#[derive(Debug)]
pub struct SlackTransport {
    client: reqwest::Client,
    secrets: Secrets,
}

impl SlackTransport {
    pub fn new(secrets: Secrets) -> Result<SlackTransport> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AwsError::Slack {
                destination: "client".into(),
                message: e.without_url().to_string(),
                retryable: false,
            })?;
        Ok(SlackTransport { client, secrets })
    }
}

impl Transport for SlackTransport {
    async fn send(&self, message: &DeliveryMessage) -> Result<()> {
        let destination = message.notice.destination.clone();
        let failure = |message: String, retryable: bool| AwsError::Slack {
            destination: destination.clone(),
            message,
            retryable,
        };
        let secret = message.webhook_secret.as_deref().ok_or_else(|| AwsError::Malformed {
            what: "slack message",
            message: "no webhook_secret".into(),
        })?;
        let url = self.secrets.get(secret).await?;
        check_url(&url).map_err(|m| failure(format!("secret {secret}: {m}"), false))?;
        let body = serde_json::json!({ "text": message.notice.slack_text() }).to_string();
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            let response = self
                .client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let wait = match response {
                Err(e) => {
                    last = format!("request failed: {}", e.without_url());
                    backoff(attempt)
                }
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    last = format!("slack answered {status}");
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        retry_after(&response).unwrap_or_else(|| backoff(attempt))
                    } else if status.is_server_error() {
                        backoff(attempt)
                    } else {
                        // 4xx other than 429 (revoked webhook, bad payload):
                        // retrying now will not help.
                        return Err(failure(last, false));
                    }
                }
            };
            if attempt + 1 < ATTEMPTS {
                tokio::time::sleep(wait.min(MAX_WAIT)).await;
            }
        }
        Err(failure(last, true))
    }
}

/// Webhooks must be https; plain http only to this machine (emulation).
fn check_url(url: &str) -> std::result::Result<(), &'static str> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "the value is not a URL")?;
    match (parsed.scheme(), parsed.host_str()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some("127.0.0.1" | "localhost" | "[::1]")) => Ok(()),
        _ => Err("the webhook URL must be https"),
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.min(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_webhooks_are_used() {
        assert!(check_url("https://hooks.slack.com/services/T/B/x").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_url("http://hooks.slack.com/services/T/B/x").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("not a url").is_err());
    }
}
