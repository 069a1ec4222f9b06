//! Names and switches every function reads from its environment (the
//! variables `infra/template.yaml` sets). Endpoint, region and credentials are
//! not here: the SDK reads `AWS_ENDPOINT_URL`, `AWS_REGION` and the rest itself.

use crate::error::{AwsError, Result};

/// Everything the three functions are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Drop bucket (`TRIAGE_BUCKET`).
    pub bucket: String,
    pub dedup_table: String,
    pub audit_table: String,
    pub slack_queue_url: String,
    pub email_queue_url: String,
    /// Record deliveries as `dry_run` and send nothing (`TRIAGE_DRY_RUN`,
    /// on unless set to `false`).
    pub dry_run: bool,
    /// Overrides the config's dedup window (`DEDUP_WINDOW_MINUTES`).
    pub window_minutes: Option<u64>,
    /// From-address of alert e-mails (`TRIAGE_EMAIL_SENDER`).
    pub email_sender: String,
    /// Secrets Manager name prefix of Slack webhooks.
    pub slack_secret_prefix: String,
    /// Config object in the drop bucket; `None` = built-in default.
    pub config_key: Option<String>,
}

/// Which function is reading: each needs only some of the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Ingest,
    SlackSender,
    EmailSender,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env(role: Role) -> Result<Settings> {
        Settings::from_lookup(role, |name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    /// Only the variables `role` needs are required; the others default to
    /// empty.
    pub fn from_lookup(role: Role, lookup: impl Fn(&str) -> Option<String>) -> Result<Settings> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let needed = |name: &'static str, hint: &'static str, roles: &[Role]| -> Result<String> {
            match get(name) {
                Some(value) => Ok(value),
                None if roles.contains(&role) => Err(AwsError::MissingEnv { name, hint }),
                None => Ok(String::new()),
            }
        };
        use Role::*;
        let dry_run = match get("TRIAGE_DRY_RUN").as_deref() {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
            Some(v) => {
                return Err(AwsError::InvalidEnv {
                    name: "TRIAGE_DRY_RUN",
                    message: format!("{v:?} is not `true` or `false`"),
                });
            }
        };
        let window_minutes = match get("DEDUP_WINDOW_MINUTES") {
            None => None,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(AwsError::InvalidEnv {
                        name: "DEDUP_WINDOW_MINUTES",
                        message: format!("{v:?} is not a whole number of minutes above 0"),
                    });
                }
            },
        };
        Ok(Settings {
            bucket: needed("TRIAGE_BUCKET", "name of the drop bucket", &[Ingest])?,
            dedup_table: needed("TRIAGE_DEDUP_TABLE", "name of the dedup table", &[Ingest])?,
            audit_table: needed(
                "TRIAGE_AUDIT_TABLE",
                "name of the audit table",
                &[Ingest, SlackSender, EmailSender],
            )?,
            slack_queue_url: needed(
                "TRIAGE_SLACK_QUEUE_URL",
                "URL of the Slack delivery queue",
                &[Ingest],
            )?,
            email_queue_url: needed(
                "TRIAGE_EMAIL_QUEUE_URL",
                "URL of the e-mail delivery queue",
                &[Ingest],
            )?,
            dry_run,
            window_minutes,
            email_sender: needed(
                "TRIAGE_EMAIL_SENDER",
                "SES-verified From address",
                &[EmailSender],
            )?,
            slack_secret_prefix: needed(
                "TRIAGE_SLACK_SECRET_PREFIX",
                "Secrets Manager prefix of Slack webhooks, e.g. triage/slack/",
                &[Ingest, SlackSender],
            )?,
            config_key: get("TRIAGE_CONFIG_KEY"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn a_missing_variable_is_named() {
        let error =
            Settings::from_lookup(Role::Ingest, lookup(&[("TRIAGE_BUCKET", "b")])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable TRIAGE_DEDUP_TABLE is not set: name of the dedup table"
        );
    }

    #[test]
    fn senders_need_only_their_variables_and_dry_run_defaults_on() {
        let settings = Settings::from_lookup(
            Role::EmailSender,
            lookup(&[("TRIAGE_AUDIT_TABLE", "audit"), ("TRIAGE_EMAIL_SENDER", "a@example.com")]),
        )
        .unwrap();
        assert!(settings.dry_run);
        assert_eq!(settings.audit_table, "audit");
        assert_eq!(settings.bucket, "");
    }

    #[test]
    fn bad_switches_are_rejected() {
        let error = Settings::from_lookup(
            Role::SlackSender,
            lookup(&[("TRIAGE_DRY_RUN", "maybe"), ("TRIAGE_AUDIT_TABLE", "a")]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("TRIAGE_DRY_RUN"));
        let error =
            Settings::from_lookup(Role::SlackSender, lookup(&[("DEDUP_WINDOW_MINUTES", "0")]))
                .unwrap_err();
        assert!(error.to_string().contains("DEDUP_WINDOW_MINUTES"));
    }
}
