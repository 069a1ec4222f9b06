//! The Slack transport against a stand-in that rate-limits, fails and
//! refuses: Retry-After is honoured, 5xx is retried then reported as
//! retryable, a 404 is reported at once as permanent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use triage_aws::queue::DeliveryMessage;
use triage_aws::secrets::Secrets;
use triage_aws::slack::SlackTransport;
use triage_aws::{AwsError, Transport};
use triage_e2e::{Moto, SlackServer, event};

/// A message from the sample SQS event, pointed at the secret `name`.
fn message(name: &str) -> DeliveryMessage {
    let sample = event("sqs-slack.json");
    let body = sample["Records"][0]["body"].as_str().unwrap();
    let mut message: DeliveryMessage = serde_json::from_str(body).unwrap();
    message.webhook_secret = Some(format!("retries/slack/{name}"));
    message
}

#[tokio::test]
#[ignore = "needs the emulator venv: run tests/run.sh"]
async fn rate_limits_are_waited_out_and_failures_say_whether_to_retry() {
    let moto = Moto::start();
    let sdk = moto.sdk().await;
    let slack = SlackServer::start().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    for channel in ["busy-1", "down-1", "gone-1"] {
        secrets
            .create_secret()
            .name(format!("retries/slack/{channel}"))
            .secret_string(slack.url(channel))
            .send()
            .await
            .unwrap();
    }
    let transport = SlackTransport::new(Secrets::new(secrets, "retries/slack/")).unwrap();

    let started = Instant::now();
    transport.send(&message("busy-1")).await.unwrap();
    assert!(started.elapsed().as_millis() >= 1000, "Retry-After: 1 was not honoured");
    let calls = |path: &str| slack.hooks().iter().filter(|h| h.path == path).count();
    assert_eq!(calls("/hooks/busy-1"), 2);

    match transport.send(&message("down-1")).await {
        Err(e @ AwsError::Slack { retryable: true, .. }) => {
            assert!(e.to_string().contains("500"), "{e}");
            assert!(!e.to_string().contains("127.0.0.1"), "the webhook URL leaked: {e}");
        }
        other => panic!("expected a retryable failure, got {other:?}"),
    }
    assert_eq!(calls("/hooks/down-1"), 3);

    match transport.send(&message("gone-1")).await {
        Err(AwsError::Slack { retryable: false, .. }) => {}
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    assert_eq!(calls("/hooks/gone-1"), 1);
}
