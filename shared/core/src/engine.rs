//! The pure part of triage for one alert: normalise, fingerprint, classify,
//! route, and the audit record for whatever the store decided.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::audit::{AuditRecord, Outcome};
use crate::config::Config;
use crate::fingerprint;
use crate::model::{Alert, Rejected, Severity, Source};
use crate::normalise::{RawRecord, normalise};

/// Rule name recorded when `[ingest] csv_hint_from_score` supplied the hint.
pub const CSV_HINT_RULE: &str = "csv-hint-from-score";

/// Triage decisions under one config.
#[derive(Debug, Clone)]
pub struct Engine {
    config: Config,
}

/// An alert with everything decided but whether it is new.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessed {
    pub alert: Alert,
    /// RFC 8785 form of `alert.payload`.
    pub payload: String,
    pub fingerprint: String,
    pub severity: Severity,
    pub rule: String,
}

impl Engine {
    pub fn new(config: Config) -> Engine {
        Engine { config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn normalise(&self, raw: RawRecord) -> Result<Alert, Rejected> {
        normalise(raw, &self.config)
    }

    /// Fingerprints and classifies a normalised alert triaged at `now`.
    pub fn assess(&self, alert: Alert, now: DateTime<Utc>) -> Assessed {
        let payload = fingerprint::canonical(&alert.payload);
        let fingerprint = match self.config.file.dedup.fingerprint_fields.get(&alert.source) {
            Some(fields) => {
                let chosen: Map<String, Value> = fields
                    .iter()
                    .filter_map(|f| alert.payload.get(f).map(|v| (f.clone(), v.clone())))
                    .collect();
                fingerprint::fingerprint(alert.source, &fingerprint::canonical(&chosen))
            }
            None => fingerprint::fingerprint(alert.source, &payload),
        };
        let derived = self.derived_hint(&alert);
        let decision = self.config.rules.classify(&alert, alert.hint.or(derived), now);
        let rule =
            if decision.by_hint && alert.hint.is_none() { CSV_HINT_RULE } else { decision.rule };
        Assessed {
            payload,
            fingerprint,
            severity: decision.severity,
            rule: rule.to_string(),
            alert,
        }
    }

    /// The old system's forced `high` hint for risky transactions, when the
    /// config turns it on.
    fn derived_hint(&self, alert: &Alert) -> Option<Severity> {
        let threshold = self.config.file.ingest.csv_hint_from_score?;
        (alert.source == Source::Csv && alert.risk_score >= threshold).then_some(Severity::High)
    }

    /// Destinations of a routed alert of `severity`.
    pub fn destinations(&self, severity: Severity) -> &[String] {
        self.config.routing.destinations(Some(severity))
    }

    /// The audit record of an assessed alert, once the store decided whether
    /// it is new (`Routed`) or a `Duplicate`.
    pub fn audit(
        &self,
        assessed: &Assessed,
        outcome: Outcome,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> AuditRecord {
        let routed_to = match outcome {
            Outcome::Routed => self.destinations(assessed.severity).to_vec(),
            Outcome::Duplicate | Outcome::Rejected => Vec::new(),
        };
        let created = assessed.alert.created_at.unwrap_or(now);
        AuditRecord {
            alert_hash: Some(assessed.fingerprint.clone()),
            outcome,
            severity: Some(assessed.severity),
            rule: assessed.rule.clone(),
            source: assessed.alert.source,
            routed_to,
            created_at_utc: created,
            triaged_at_utc: now,
            sla_seconds: (now - created).num_seconds(),
            created_at_missing: assessed.alert.created_at.is_none(),
            payload: assessed.payload.clone(),
            payload_sha256: fingerprint::of_bytes(assessed.payload.as_bytes()),
            origin: assessed.alert.origin.to_string(),
            reason: None,
            run_id: run_id.to_string(),
            config_hash: self.config.hash.clone(),
        }
    }

    /// The audit record of a rejected alert, routed to the `rejected` row.
    pub fn audit_rejected(
        &self,
        rejected: &Rejected,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> AuditRecord {
        let mut payload = Map::new();
        payload.insert("raw".into(), Value::String(rejected.raw.clone()));
        let payload = fingerprint::canonical(&payload);
        let reason = match &rejected.field {
            Some(field) => format!("field `{field}`: {}", rejected.reason),
            None => rejected.reason.clone(),
        };
        AuditRecord {
            alert_hash: None,
            outcome: Outcome::Rejected,
            severity: None,
            rule: "rejected".into(),
            source: rejected.source,
            routed_to: self.config.routing.destinations(None).to_vec(),
            created_at_utc: now,
            triaged_at_utc: now,
            sla_seconds: 0,
            created_at_missing: true,
            payload_sha256: fingerprint::of_bytes(payload.as_bytes()),
            payload,
            origin: rejected.origin.to_string(),
            reason: Some(reason),
            run_id: run_id.to_string(),
            config_hash: self.config.hash.clone(),
        }
    }
}
