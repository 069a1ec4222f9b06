//! The audit record: one per input alert per run, whatever its outcome, with
//! enough to answer an examiner without the original drop.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Severity, Source};

/// What happened to an input alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// New within the dedup window: classified and sent to its destinations.
    Routed,
    /// Its fingerprint was first seen within the window: not sent again.
    Duplicate,
    /// Could not be parsed or failed validation: sent to the `rejected` row.
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Routed => "routed",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected => "rejected",
        }
    }
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The fingerprint; `None` for a rejected alert, which has none.
    pub alert_hash: Option<String>,
    pub outcome: Outcome,
    /// `None` for a rejected alert.
    pub severity: Option<Severity>,
    /// The rule that decided the severity, or `rejected`.
    pub rule: String,
    pub source: Source,
    /// Destinations this record was sent to (empty for duplicates).
    pub routed_to: Vec<String>,
    pub created_at_utc: DateTime<Utc>,
    pub triaged_at_utc: DateTime<Utc>,
    /// Triage time minus creation time.
    pub sla_seconds: i64,
    /// True when the alert had no `created_at` and triage time stands in.
    pub created_at_missing: bool,
    /// Canonical JSON of the normalised alert (for a rejection: of what was read).
    pub payload: String,
    /// SHA-256 of the payload bytes: for a rejection, the only identity it has.
    pub payload_sha256: String,
    /// Object key or file, with line and index.
    pub origin: String,
    /// Why a rejected alert was rejected, naming the field.
    pub reason: Option<String>,
    pub run_id: String,
    /// Hash of the config in force.
    pub config_hash: String,
}

impl AuditRecord {
    pub fn routed_to_text(&self) -> String {
        self.routed_to.join(",")
    }
}
