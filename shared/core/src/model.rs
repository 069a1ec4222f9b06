//! The alert model shared by every stage: where a record came from, what it
//! became after normalisation, and why it was rejected when it could not.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Which kind of producer an alert came from; part of the fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Vendor e-mail alerts: JSON, NDJSON or Gmail API messages.
    Gmail,
    /// Transaction-monitoring rows.
    Csv,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Gmail => "gmail",
            Source::Csv => "csv",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity, most urgent first (the derived order sorts critical first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub const ALL: [Severity; 4] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }

    /// Reads a severity hint: lower-cased and trimmed; anything else is no hint.
    pub fn from_hint(text: &str) -> Option<Severity> {
        match text.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" => Some(Severity::High),
            "medium" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record sits in its drop: the object and its line and/or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File path or object key, as given.
    pub object: String,
    /// 1-based line where the record starts, when the format has lines.
    pub line: Option<u64>,
    /// 0-based position of the record among the drop's records (JSON element
    /// index, CSV data row index).
    pub index: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{} [{}]", self.object, line, self.index),
            None => write!(f, "{} [{}]", self.object, self.index),
        }
    }
}

/// A normalised alert, ready to fingerprint and classify.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub source: Source,
    pub origin: Origin,
    /// Normalised fields under their canonical names, unknown fields kept.
    /// This is exactly what the fingerprint covers (unless the config narrows
    /// it) and what the audit record stores.
    pub payload: Map<String, Value>,
    /// Parsed `created_at`; `None` when the alert carried none.
    pub created_at: Option<DateTime<Utc>>,
    /// `risk_score` as a number; 0 when the alert carried none.
    pub risk_score: f64,
    /// A recognised `severity_hint`.
    pub hint: Option<Severity>,
}

impl Alert {
    /// A payload field as text, if it is a string.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.payload.get(field).and_then(Value::as_str)
    }
}

/// An alert that could not be parsed or failed validation. It is audited and
/// routed to the `rejected` row so a person sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub source: Source,
    pub origin: Origin,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// What is wrong, in lower case, for a person.
    pub reason: String,
    /// The record as it was read (possibly shortened), kept for the audit.
    pub raw: String,
}

impl Rejected {
    pub fn new(source: Source, origin: Origin, reason: impl Into<String>) -> Self {
        Rejected { source, origin, field: None, reason: reason.into(), raw: String::new() }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn raw(mut self, raw: impl Into<String>) -> Self {
        self.raw = raw.into();
        self
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: field `{}`: {}", self.origin, field, self.reason),
            None => write!(f, "{}: {}", self.origin, self.reason),
        }
    }
}
