//! Run accounting: `read = new + duplicate + rejected`, with the breakdowns a
//! summary prints, built from the audit records themselves.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::audit::{AuditRecord, Outcome};
use crate::model::Severity;

/// Rejections kept in detail; the rest are counted.
const KEPT_REJECTIONS: usize = 1000;

/// One rejection, as a summary lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectionNote {
    pub origin: String,
    pub reason: String,
}

/// A drop that could not be read to the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineNote {
    pub object: String,
    pub report: String,
}

/// Counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunTally {
    pub run_id: String,
    pub files: u64,
    pub read: u64,
    pub new: u64,
    pub duplicate: u64,
    pub rejected: u64,
    /// Routed alerts by severity.
    pub by_severity: BTreeMap<Severity, u64>,
    /// Deliveries (routed and rejected alerts) by destination.
    pub by_destination: BTreeMap<String, u64>,
    /// Routed alerts without a `created_at`.
    pub created_at_missing: u64,
    /// Mean seconds from creation to triage over routed alerts.
    pub average_sla_seconds: Option<f64>,
    pub rejections: Vec<RejectionNote>,
    /// Rejections beyond those listed.
    pub rejections_not_listed: u64,
    pub quarantined: Vec<QuarantineNote>,
    #[serde(skip)]
    sla_total: i128,
}

impl RunTally {
    pub fn new(run_id: impl Into<String>) -> Self {
        RunTally { run_id: run_id.into(), ..RunTally::default() }
    }

    /// Counts one audit record.
    pub fn count(&mut self, record: &AuditRecord) {
        self.read += 1;
        match record.outcome {
            Outcome::Routed => {
                self.new += 1;
                if let Some(severity) = record.severity {
                    *self.by_severity.entry(severity).or_default() += 1;
                }
                self.created_at_missing += u64::from(record.created_at_missing);
                self.sla_total += i128::from(record.sla_seconds);
                self.average_sla_seconds = Some(self.sla_total as f64 / self.new as f64);
            }
            Outcome::Duplicate => self.duplicate += 1,
            Outcome::Rejected => {
                self.rejected += 1;
                if self.rejections.len() < KEPT_REJECTIONS {
                    let reason = record.reason.clone().unwrap_or_default();
                    self.rejections.push(RejectionNote { origin: record.origin.clone(), reason });
                } else {
                    self.rejections_not_listed += 1;
                }
            }
        }
        for destination in &record.routed_to {
            *self.by_destination.entry(destination.clone()).or_default() += 1;
        }
    }

    pub fn quarantine(&mut self, object: impl Into<String>, report: impl Into<String>) {
        self.quarantined.push(QuarantineNote { object: object.into(), report: report.into() });
    }

    /// The accounting identity every run must satisfy.
    pub fn balanced(&self) -> bool {
        self.read == self.new + self.duplicate + self.rejected
    }

    /// Adds another tally's counts (for runs split over workers).
    pub fn merge(&mut self, other: RunTally) {
        self.files += other.files;
        self.read += other.read;
        self.new += other.new;
        self.duplicate += other.duplicate;
        self.rejected += other.rejected;
        self.created_at_missing += other.created_at_missing;
        self.sla_total += other.sla_total;
        if self.new > 0 {
            self.average_sla_seconds = Some(self.sla_total as f64 / self.new as f64);
        }
        for (severity, n) in other.by_severity {
            *self.by_severity.entry(severity).or_default() += n;
        }
        for (destination, n) in other.by_destination {
            *self.by_destination.entry(destination).or_default() += n;
        }
        self.rejections_not_listed += other.rejections_not_listed;
        for note in other.rejections {
            if self.rejections.len() < KEPT_REJECTIONS {
                self.rejections.push(note);
            } else {
                self.rejections_not_listed += 1;
            }
        }
        self.quarantined.extend(other.quarantined);
    }
}
