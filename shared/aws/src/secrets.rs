//! Slack webhook URLs from Secrets Manager, read once per cold start per
//! secret and kept in memory. Only names under the configured prefix are
//! read (the IAM policy allows no others either).

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use tokio::sync::Mutex;

use crate::error::{AwsError, Result};

/// Cached reader of webhook secrets.
#[derive(Debug)]
pub struct Secrets {
    client: Client,
    prefix: String,
    cache: Mutex<HashMap<String, String>>,
}

impl Secrets {
    pub fn new(client: Client, prefix: impl Into<String>) -> Secrets {
        Secrets { client, prefix: prefix.into(), cache: Mutex::new(HashMap::new()) }
    }

    /// The value of secret `name`. The value is a secret: callers never log it.
    pub async fn get(&self, name: &str) -> Result<String> {
        if !name.starts_with(&self.prefix) || self.prefix.is_empty() {
            return Err(AwsError::Malformed {
                what: "webhook secret",
                message: format!("{name:?} is not under the prefix {:?}", self.prefix),
            });
        }
        let mut cache = self.cache.lock().await;
        if let Some(value) = cache.get(name) {
            return Ok(value.clone());
        }
        let output = self
            .client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| AwsError::sdk("secretsmanager", "GetSecretValue", e))?;
        let value = output.secret_string.map(|v| v.trim().to_string()).ok_or_else(|| {
            AwsError::Malformed {
                what: "webhook secret",
                message: format!("{name} holds no string value"),
            }
        })?;
        cache.insert(name.to_string(), value.clone());
        Ok(value)
    }
}
