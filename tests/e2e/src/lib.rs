//! Harness of the end-to-end tests: a moto server on a free 127.0.0.1 port
//! (killed on drop), a fresh set of resources with random names per test, a
//! tiny Slack webhook server that records what it is sent, and helpers to
//! read queues and tables back.
//!
//! moto comes from the venv at `$TRIAGE_VENV` (default `<repo>/.venv`), which
//! `tests/run.sh` creates; the tests that need it are `#[ignore]`d so a plain
//! `cargo test` lists them as skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use aws_sdk_s3::config::Credentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use triage_aws::{Clients, Settings};

/// Slack channels of the default config.
pub const CHANNELS: [&str; 3] = ["compliance-critical", "compliance-high", "compliance-info"];
pub const REGION: &str = "us-east-1";
pub const SENDER: &str = "triage@example.com";

/// The workspace root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The venv holding `moto_server` and `cargo-lambda`.
pub fn venv() -> PathBuf {
    std::env::var_os("TRIAGE_VENV").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv"))
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on 127.0.0.1:{port} after {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A moto server of this test alone.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let binary = venv().join("bin/moto_server");
        assert!(
            binary.exists(),
            "{} is missing: run tests/run.sh (it creates the venv)",
            binary.display()
        );
        let port = free_port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        wait_for_port(port, Duration::from_secs(60));
        moto
    }

    /// SDK config pointed at this server with dummy credentials.
    pub async fn sdk(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One received webhook call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub path: String,
    pub body: String,
}

/// A Slack stand-in on 127.0.0.1: answers 200 `ok` and records each call.
/// Channels named `busy-*` are rate limited on their first call (429 with
/// `Retry-After: 1`), `down-*` always answer 500, and `gone-*` 404.
#[derive(Debug, Clone)]
pub struct SlackServer {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Hook>>>,
}

impl SlackServer {
    pub async fn start() -> SlackServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&log)));
            }
        });
        SlackServer { port, received }
    }

    pub fn url(&self, channel: &str) -> String {
        format!("http://127.0.0.1:{}/hooks/{channel}", self.port)
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.received.lock().unwrap().clone()
    }
}

/// The answer to the `earlier`-th call before this one on `path`.
fn reply(path: &str, earlier: usize) -> &'static [u8] {
    let channel = path.rsplit('/').next().unwrap_or_default();
    if channel.starts_with("busy-") && earlier == 0 {
        b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n"
    } else if channel.starts_with("down-") {
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"
    } else if channel.starts_with("gone-") {
        b"HTTP/1.1 404 Not Found\r\ncontent-length: 12\r\n\r\nno_such_hook"
    } else {
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"
    }
}

/// HTTP/1.1 with keep-alive, enough for reqwest's POSTs.
async fn serve(mut stream: tokio::net::TcpStream, log: Arc<Mutex<Vec<Hook>>>) {
    let mut buffer = Vec::new();
    loop {
        let header_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
        let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < header_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buffer[header_end..header_end + length]).to_string();
        buffer.drain(..header_end + length);
        let earlier = {
            let mut log = log.lock().unwrap();
            let earlier = log.iter().filter(|h| h.path == path).count();
            log.push(Hook { path: path.clone(), body });
            earlier
        };
        if stream.write_all(reply(&path, earlier)).await.is_err() {
            return;
        }
    }
}

/// Resources of one test, named with a random suffix.
#[derive(Debug)]
pub struct Stack {
    pub clients: Clients,
    pub settings: Settings,
}

impl Stack {
    /// The environment a function needs to run against this stack on the
    /// emulator at `endpoint`.
    pub fn function_env(&self, endpoint: &str, dry_run: bool) -> Vec<(&'static str, String)> {
        let s = &self.settings;
        vec![
            ("AWS_ENDPOINT_URL", endpoint.to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("TRIAGE_BUCKET", s.bucket.clone()),
            ("TRIAGE_DEDUP_TABLE", s.dedup_table.clone()),
            ("TRIAGE_AUDIT_TABLE", s.audit_table.clone()),
            ("TRIAGE_SLACK_QUEUE_URL", s.slack_queue_url.clone()),
            ("TRIAGE_EMAIL_QUEUE_URL", s.email_queue_url.clone()),
            ("TRIAGE_SLACK_SECRET_PREFIX", s.slack_secret_prefix.clone()),
            ("TRIAGE_EMAIL_SENDER", s.email_sender.clone()),
            ("TRIAGE_DRY_RUN", dry_run.to_string()),
        ]
    }

    /// Creates bucket, tables, queues, SES identity and one webhook secret
    /// per channel pointing at `slack`, all named with a random suffix.
    pub async fn create(sdk: &SdkConfig, slack: &SlackServer) -> Stack {
        let id = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        Stack::create_named(sdk, &format!("-{id}"), |channel| slack.url(channel)).await
    }

    /// The same with names `drops<suffix>`, `dedup<suffix>`, `audit<suffix>`,
    /// `slack<suffix>`, `email<suffix>` and the secret prefix
    /// `triage<suffix>/slack/`; `webhook` gives each channel's URL.
    pub async fn create_named(
        sdk: &SdkConfig,
        suffix: &str,
        webhook: impl Fn(&str) -> String,
    ) -> Stack {
        let clients = Clients::new(sdk);
        let settings = Settings {
            bucket: format!("drops{suffix}"),
            dedup_table: format!("dedup{suffix}"),
            audit_table: format!("audit{suffix}"),
            slack_queue_url: String::new(),
            email_queue_url: String::new(),
            dry_run: false,
            window_minutes: None,
            email_sender: SENDER.into(),
            slack_secret_prefix: format!("triage{suffix}/slack/"),
            config_key: None,
        };
        clients.s3.create_bucket().bucket(&settings.bucket).send().await.unwrap();
        create_table(&clients.dynamodb, &settings.dedup_table, false).await;
        create_table(&clients.dynamodb, &settings.audit_table, true).await;
        clients
            .dynamodb
            .update_time_to_live()
            .table_name(&settings.dedup_table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let queue = |name: String| {
            let sqs = clients.sqs.clone();
            async move { sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap() }
        };
        let slack_queue_url = queue(format!("slack{suffix}")).await;
        let email_queue_url = queue(format!("email{suffix}")).await;
        clients.ses.verify_email_identity().email_address(SENDER).send().await.unwrap();
        for channel in CHANNELS {
            clients
                .secrets
                .create_secret()
                .name(format!("{}{channel}", settings.slack_secret_prefix))
                .secret_string(webhook(channel))
                .send()
                .await
                .unwrap();
        }
        Stack { clients, settings: Settings { slack_queue_url, email_queue_url, ..settings } }
    }

    /// Uploads a local file under `key`.
    pub async fn upload(&self, path: &str, key: &str) {
        let bytes = std::fs::read(repo().join(path)).unwrap();
        self.upload_bytes(bytes, key).await;
    }

    pub async fn upload_bytes(&self, bytes: Vec<u8>, key: &str) {
        self.clients
            .s3
            .put_object()
            .bucket(&self.settings.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }

    /// Object keys under `prefix`, sorted.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = triage_aws::Drops::new(self.clients.s3.clone(), &self.settings.bucket)
            .list(prefix)
            .await
            .unwrap();
        keys.sort();
        keys
    }

    pub async fn object_text(&self, key: &str) -> String {
        triage_aws::Drops::new(self.clients.s3.clone(), &self.settings.bucket)
            .read_text(key)
            .await
            .unwrap()
    }

    /// Every item of a table.
    pub async fn scan(
        &self,
        table: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut items = Vec::new();
        let mut pages = self.clients.dynamodb.scan().table_name(table).into_paginator().send();
        while let Some(page) = pages.next().await {
            items.extend(page.unwrap().items.unwrap_or_default());
        }
        items
    }

    /// Receives every visible message of a queue (they stay in flight).
    pub async fn drain(&self, queue_url: &str) -> Vec<(String, String)> {
        let mut messages = Vec::new();
        loop {
            let output = self
                .clients
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(600)
                .send()
                .await
                .unwrap();
            let batch = output.messages.unwrap_or_default();
            if batch.is_empty() {
                return messages;
            }
            messages.extend(batch.into_iter().map(|m| (m.message_id.unwrap(), m.body.unwrap())));
        }
    }

    /// E-mails SES accepted so far.
    pub async fn ses_sent(&self) -> f64 {
        self.clients.ses.get_send_quota().send().await.unwrap().sent_last24_hours
    }
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str, with_sort_key: bool) {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap()
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("alert_hash"))
        .key_schema(key("alert_hash", KeyType::Hash));
    if with_sort_key {
        request = request
            .attribute_definitions(attribute("event"))
            .key_schema(key("event", KeyType::Range));
    }
    request.send().await.unwrap();
}

/// An SQS event as Lambda would deliver `messages` (id, body).
pub fn sqs_event(messages: &[(String, String)]) -> SqsEvent {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|(id, body)| {
            serde_json::json!({
                "messageId": id,
                "receiptHandle": format!("handle-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:test",
                "awsRegion": REGION,
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// `events/<name>` as JSON.
pub fn event(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("events").join(name)).unwrap())
        .unwrap()
}

/// An S3 ObjectCreated event for `keys` (form-encoded as S3 does) in `bucket`.
pub fn s3_event(bucket: &str, keys: &[&str]) -> serde_json::Value {
    let template = event("s3-put.json");
    let records: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            let mut record = template["Records"][0].clone();
            record["s3"]["bucket"]["name"] = bucket.into();
            record["s3"]["bucket"]["arn"] = format!("arn:aws:s3:::{bucket}").into();
            let encoded: String = key
                .split(' ')
                .map(|part| {
                    percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC)
                        .to_string()
                })
                .collect::<Vec<_>>()
                .join("+")
                .replace("%2F", "/")
                .replace("%2E", ".")
                .replace("%2D", "-")
                .replace("%5F", "_");
            record["s3"]["object"]["key"] = encoded.into();
            record
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// What the core alone says a first run over some drops must produce: the
/// oracle the cloud pipeline is checked against.
#[derive(Debug, Default)]
pub struct Expected {
    pub read: u64,
    pub rejected: u64,
    /// Distinct fingerprints, i.e. alerts that are new in a first run.
    pub unique: std::collections::BTreeSet<String>,
    /// Deliveries of a first run (new alerts and rejections) by destination.
    pub deliveries: std::collections::BTreeMap<String, u64>,
}

impl Expected {
    pub fn of(drops: &[(&str, &str)]) -> Expected {
        use triage_core::parse::{self, Item};
        let engine = triage_core::Engine::new(triage_core::Config::default());
        let now = chrono::Utc::now();
        let mut expected = Expected::default();
        for (path, key) in drops {
            let file = std::fs::File::open(repo().join(path)).unwrap();
            for item in parse::records(key, file, engine.config()).unwrap() {
                expected.read += 1;
                let destinations = match item.unwrap() {
                    Item::Record(raw) => match engine.normalise(raw) {
                        Ok(alert) => {
                            let assessed = engine.assess(alert, now);
                            if !expected.unique.insert(assessed.fingerprint.clone()) {
                                continue;
                            }
                            engine.destinations(assessed.severity).to_vec()
                        }
                        Err(rejected) => {
                            expected.rejected += 1;
                            engine.audit_rejected(&rejected, "x", now).routed_to
                        }
                    },
                    Item::Rejected(rejected) => {
                        expected.rejected += 1;
                        engine.audit_rejected(&rejected, "x", now).routed_to
                    }
                };
                for destination in destinations {
                    *expected.deliveries.entry(destination).or_default() += 1;
                }
            }
        }
        expected
    }

    pub fn new_alerts(&self) -> u64 {
        self.unique.len() as u64
    }

    /// Deliveries whose destination starts with `prefix` (`slack:`, `email:`).
    pub fn deliveries_to(&self, prefix: &str) -> u64 {
        self.deliveries.iter().filter(|(d, _)| d.starts_with(prefix)).map(|(_, n)| n).sum()
    }
}
