//! Delivery of notices from a local run: recorded only (dry run), or posted to
//! Slack incoming webhooks, one per channel, with Slack's rate limits obeyed.
//! E-mail has no local transport; see the README's limitations.

use std::collections::HashMap;
use std::time::Duration;

use triage_core::Config;
use triage_core::Notice;
use triage_core::route::Channel;

use crate::error::LocalError;

/// Longest wait honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Sends one notice to its destination.
pub trait Notifier {
    /// Sends `notice`; an `Err` says why it was not delivered (never a URL).
    fn send(&self, notice: &Notice, attempt: u32) -> Result<(), String>;
    /// Whether this notifier can deliver to `destination` at all.
    fn handles(&self, destination: &str) -> bool;
}

/// Sends nothing.
#[derive(Debug, Default)]
pub struct DryRun;

impl Notifier for DryRun {
    fn send(&self, _notice: &Notice, _attempt: u32) -> Result<(), String> {
        Ok(())
    }

    fn handles(&self, _destination: &str) -> bool {
        false
    }
}

/// Posts to Slack incoming webhooks.
#[derive(Debug)]
pub struct SlackWebhooks {
    client: reqwest::blocking::Client,
    /// Destination name -> webhook URL (a secret: never logged).
    urls: HashMap<String, String>,
}

impl SlackWebhooks {
    /// Reads each Slack destination's webhook URL from the environment
    /// variable its config names. Every routed Slack destination needs one.
    pub fn from_env(config: &Config) -> Result<SlackWebhooks, LocalError> {
        let mut urls = HashMap::new();
        for (name, spec) in &config.file.destinations {
            if Channel::of(name) != Some(Channel::Slack) {
                continue;
            }
            let missing =
                |message: String| LocalError::Destination { destination: name.clone(), message };
            let variable = spec.webhook_env.as_ref().ok_or_else(|| {
                missing("no `webhook_env` names the variable holding its webhook URL".into())
            })?;
            let url = std::env::var(variable)
                .map_err(|_| missing(format!("set {variable} to its webhook URL")))?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(missing(format!("{variable} does not hold an http(s) URL")));
            }
            urls.insert(name.clone(), url);
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| LocalError::Destination {
                destination: "slack".into(),
                message: e.to_string(),
            })?;
        Ok(SlackWebhooks { client, urls })
    }
}

impl Notifier for SlackWebhooks {
    fn send(&self, notice: &Notice, attempt: u32) -> Result<(), String> {
        let url = self.urls.get(&notice.destination).ok_or("no webhook configured")?;
        let body = serde_json::json!({ "text": notice.slack_text() });
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .map_err(|e| {
                // Back off before the next attempt, as for a 5xx.
                std::thread::sleep(backoff(attempt));
                let cause =
                    std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
                let kind = if e.is_timeout() { "timed out" } else { "request failed" };
                format!("{kind}{cause}")
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status.as_u16() == 429 || status.is_server_error() {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(backoff(attempt));
            std::thread::sleep(wait.min(MAX_RETRY_AFTER));
        }
        Err(format!("slack answered {status}"))
    }

    fn handles(&self, destination: &str) -> bool {
        self.urls.contains_key(destination)
    }
}

/// Wait before retry `attempt`: 250 ms doubling, at most 16 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.min(6))
}
