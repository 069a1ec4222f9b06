//! Creates the stack's resources on a local emulator (moto server or
//! LocalStack at `AWS_ENDPOINT_URL`), uploads the sample drops to
//! `incoming/`, and prints the environment for `cargo lambda watch`.
//!
//!     AWS_ENDPOINT_URL=http://127.0.0.1:4566 cargo run -p triage-e2e --example local_stack
//!
//! `SLACK_WEBHOOK_BASE` (default `http://127.0.0.1:9999/hooks`) is where the
//! channel secrets point: `<base>/<channel>`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use triage_e2e::{REGION, Stack};

#[tokio::main]
async fn main() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("set AWS_ENDPOINT_URL to the emulator, e.g. http://127.0.0.1:4566");
    let base = std::env::var("SLACK_WEBHOOK_BASE")
        .unwrap_or_else(|_| "http://127.0.0.1:9999/hooks".into());
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "local"))
        .load()
        .await;
    let stack = Stack::create_named(&sdk, "-local", |channel| format!("{base}/{channel}")).await;
    for (path, key) in [
        ("events/drops/transactions.csv", "incoming/transactions.csv"),
        ("events/drops/vendor-alerts.json", "incoming/vendor alerts+2024 12.json"),
        ("events/drops/bad-rows.csv", "incoming/bad-rows.csv"),
    ] {
        stack.upload(path, key).await;
    }
    for (name, value) in stack.function_env(&endpoint, true) {
        println!("export {name}='{value}'");
    }
}
