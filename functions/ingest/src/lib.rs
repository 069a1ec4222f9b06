//! The ingest function: turns drops in the S3 bucket into claimed, audited
//! and enqueued alerts. `main.rs` only wires; [`handle`] is what Lambda (and
//! the tests) call.

pub mod run;
pub mod trigger;

use std::sync::Arc;

use serde_json::Value;
use triage_aws::drops::INCOMING;
use triage_aws::error::AwsError;
use triage_aws::{AuditLog, Clients, DedupStore, Dispatcher, Drops, Settings};
use triage_core::{Config, Engine};

pub use run::Summary;
pub use trigger::Trigger;

/// The adapters of one ingest function, built once per cold start.
#[derive(Debug, Clone)]
pub struct Ingest {
    pub engine: Arc<Engine>,
    pub drops: Drops,
    pub dedup: DedupStore,
    pub audit: AuditLog,
    pub dispatcher: Dispatcher,
    pub slack_secret_prefix: String,
}

impl Ingest {
    /// Builds the adapters and loads the config (from the bucket when
    /// `TRIAGE_CONFIG_KEY` is set, else the built-in default).
    pub async fn from_settings(settings: &Settings, clients: &Clients) -> Result<Ingest, AwsError> {
        let drops = Drops::new(clients.s3.clone(), &settings.bucket);
        let config = match &settings.config_key {
            Some(key) => {
                let text = drops.read_text(key).await?;
                Config::from_toml(&text).map_err(|e| AwsError::Config {
                    location: key.clone(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        let config = with_window(config, settings.window_minutes)?;
        tracing::info!(config_hash = %config.hash, window_minutes = config.window_minutes(), "config loaded");
        Ok(Ingest {
            dedup: DedupStore::new(
                clients.dynamodb.clone(),
                &settings.dedup_table,
                config.window_minutes(),
            ),
            audit: AuditLog::new(clients.dynamodb.clone(), &settings.audit_table),
            dispatcher: Dispatcher::new(
                clients.sqs.clone(),
                &settings.slack_queue_url,
                &settings.email_queue_url,
            ),
            slack_secret_prefix: settings.slack_secret_prefix.clone(),
            engine: Arc::new(Engine::new(config)),
            drops,
        })
    }
}

/// `DEDUP_WINDOW_MINUTES` overrides the config file; the config hash stamped
/// on audit records then covers the window in force.
fn with_window(config: Config, window_minutes: Option<u64>) -> Result<Config, AwsError> {
    match window_minutes {
        Some(minutes) if minutes != config.window_minutes() => {
            let mut file = config.file;
            file.dedup.window_minutes = minutes;
            Config::from_file(file, "").map_err(|e| AwsError::Config {
                location: "DEDUP_WINDOW_MINUTES".into(),
                message: e.to_string(),
            })
        }
        _ => Ok(config),
    }
}

/// Handles one invocation: a scheduled sweep or S3 notifications. Fails
/// (so Lambda retries and the error alarm fires) when some object could not
/// be processed; the others are done regardless.
pub async fn handle(app: &Ingest, event: Value) -> Result<Summary, AwsError> {
    let trigger = trigger::parse(&event, app.drops.bucket())
        .map_err(|message| AwsError::Malformed { what: "ingest event", message })?;
    let keys = match trigger {
        Trigger::Sweep => app.drops.list(INCOMING).await?,
        Trigger::Objects(keys) => keys,
    };
    let summary = app.run(&keys).await;
    tracing::info!(
        run_id = %summary.run_id,
        objects = keys.len(),
        read = summary.read,
        new = summary.new,
        duplicate = summary.duplicate,
        rejected = summary.rejected,
        in_flight = summary.in_flight,
        processed = summary.objects.processed,
        quarantined = summary.objects.quarantined,
        left = summary.objects.left,
        slack_messages = summary.enqueued.slack,
        email_messages = summary.enqueued.email,
        "ingest run done"
    );
    if !summary.errors.is_empty() {
        return Err(AwsError::Exhausted {
            operation: "ingest",
            attempts: 1,
            message: format!(
                "{} of {} objects failed and stay in incoming/ (run {}): {}",
                summary.errors.len(),
                keys.len(),
                summary.run_id,
                summary.errors.join("; ")
            ),
        });
    }
    Ok(summary)
}
