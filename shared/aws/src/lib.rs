//! AWS adapters of alert triage: the DynamoDB dedup store (claims with
//! leases) and audit log (delivery states), S3 drops, the SQS dispatcher and
//! its message schema, and the two transports (Slack webhooks, SES).
//!
//! Every adapter takes an SDK client built once by the function's `main`
//! (endpoint and region from the environment) and names from [`Settings`].
//! SDK errors become [`AwsError`] here; nothing of the SDK reaches the core.

pub mod audit;
pub mod dedup;
pub mod deliver;
pub mod drops;
pub mod email;
pub mod error;
pub mod queue;
pub mod secrets;
pub mod settings;
pub mod slack;

mod attr;

pub use audit::{AuditKey, AuditLog};
pub use dedup::{Claim, ClaimRequest, DedupStore};
pub use deliver::{Ledger, Transport, handle_batch};
pub use drops::Drops;
pub use error::AwsError;
pub use queue::{DeliveryMessage, Dispatcher};
pub use settings::{Role, Settings};

/// Clients for each service from one SDK config. S3 uses path-style
/// addresses when an endpoint is set (moto, LocalStack), since
/// `<bucket>.127.0.0.1` does not resolve.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ses: aws_sdk_ses::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Clients {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            ses: aws_sdk_ses::Client::new(config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
        }
    }
}

/// Structured JSON logs for a Lambda function, `RUST_LOG` or `info`.
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_current_span(false)
        .init();
}
