//! The examiners' standard questions over an audit trail, computed from rows
//! whatever store they come from (SQLite locally, a DynamoDB export in the
//! cloud), so both answer the same way.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::audit::Outcome;
use crate::model::Severity;

/// The part of an audit record the questions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub outcome: Outcome,
    pub severity: Option<Severity>,
    /// Comma-separated destinations.
    pub routed_to: String,
    pub sla_seconds: i64,
    pub alert_hash: Option<String>,
}

/// Q1: how many alerts were processed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Processed {
    pub total: u64,
    pub routed: u64,
    pub duplicate: u64,
    pub rejected: u64,
}

/// Q2: one severity's share of routed alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeverityShare {
    pub severity: Severity,
    pub count: u64,
    pub percent: f64,
}

/// Q4: SLA seconds of one severity's routed alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaStats {
    pub severity: Severity,
    pub count: u64,
    pub average: f64,
    pub max: i64,
    pub p50: i64,
    pub p95: i64,
}

/// Q5: dedup effectiveness.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DedupStats {
    /// Records that carry a fingerprint (routed and duplicate).
    pub total: u64,
    pub unique_fingerprints: u64,
    pub duplicates_suppressed: u64,
}

/// Delivery state counts per destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryCount {
    pub destination: String,
    pub state: String,
    pub count: u64,
}

/// All answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    pub processed: Processed,
    pub severity_distribution: Vec<SeverityShare>,
    /// Q3: must be 0.
    pub routed_without_destination: u64,
    pub sla_by_severity: Vec<SlaStats>,
    pub dedup: DedupStats,
    pub deliveries: Vec<DeliveryCount>,
}

/// Accumulates rows into an [`AuditReport`].
#[derive(Debug, Default)]
pub struct ReportBuilder {
    processed: Processed,
    routed_without_destination: u64,
    sla: BTreeMap<Severity, Vec<i64>>,
    fingerprints: HashSet<[u8; 32]>,
    fingerprinted: u64,
    deliveries: BTreeMap<(String, String), u64>,
}

impl ReportBuilder {
    pub fn add(&mut self, row: &ReportRow) {
        self.processed.total += 1;
        match row.outcome {
            Outcome::Routed => {
                self.processed.routed += 1;
                if row.routed_to.split(',').all(|d| d.trim().is_empty()) {
                    self.routed_without_destination += 1;
                }
                if let Some(severity) = row.severity {
                    self.sla.entry(severity).or_default().push(row.sla_seconds);
                }
            }
            Outcome::Duplicate => self.processed.duplicate += 1,
            Outcome::Rejected => self.processed.rejected += 1,
        }
        if let Some(hash) = &row.alert_hash {
            self.fingerprinted += 1;
            let mut key = [0u8; 32];
            // A hash that is not 64 hex digits still counts, by its first bytes.
            if hex::decode_to_slice(hash, &mut key).is_err() {
                let bytes = hash.as_bytes();
                key[..bytes.len().min(32)].copy_from_slice(&bytes[..bytes.len().min(32)]);
            }
            self.fingerprints.insert(key);
        }
    }

    pub fn add_delivery(&mut self, destination: &str, state: &str, count: u64) {
        *self.deliveries.entry((destination.to_string(), state.to_string())).or_default() += count;
    }

    pub fn finish(self) -> AuditReport {
        let routed = self.processed.routed;
        let severity_distribution = Severity::ALL
            .iter()
            .map(|&severity| {
                let count = self.sla.get(&severity).map_or(0, |v| v.len() as u64);
                let percent = if routed == 0 { 0.0 } else { count as f64 * 100.0 / routed as f64 };
                SeverityShare { severity, count, percent }
            })
            .collect();
        let sla_by_severity = self
            .sla
            .into_iter()
            .map(|(severity, mut values)| {
                values.sort_unstable();
                let count = values.len() as u64;
                let sum: i128 = values.iter().map(|v| i128::from(*v)).sum();
                SlaStats {
                    severity,
                    count,
                    average: sum as f64 / count.max(1) as f64,
                    max: values.last().copied().unwrap_or(0),
                    p50: nearest_rank(&values, 50),
                    p95: nearest_rank(&values, 95),
                }
            })
            .collect();
        AuditReport {
            dedup: DedupStats {
                total: self.fingerprinted,
                unique_fingerprints: self.fingerprints.len() as u64,
                duplicates_suppressed: self.processed.duplicate,
            },
            processed: self.processed,
            severity_distribution,
            routed_without_destination: self.routed_without_destination,
            sla_by_severity,
            deliveries: self
                .deliveries
                .into_iter()
                .map(|((destination, state), count)| DeliveryCount { destination, state, count })
                .collect(),
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn nearest_rank(sorted: &[i64], percent: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        outcome: Outcome,
        severity: Option<Severity>,
        to: &str,
        sla: i64,
        hash: Option<&str>,
    ) -> ReportRow {
        ReportRow {
            outcome,
            severity,
            routed_to: to.into(),
            sla_seconds: sla,
            alert_hash: hash.map(String::from),
        }
    }

    #[test]
    fn answers_the_five_questions() {
        let mut builder = ReportBuilder::default();
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        for sla in 1..=20 {
            builder.add(&row(
                Outcome::Routed,
                Some(Severity::High),
                "slack:x",
                sla,
                Some(&format!("{sla:064}")),
            ));
        }
        builder.add(&row(Outcome::Routed, Some(Severity::Critical), "", 5, Some(&a)));
        builder.add(&row(Outcome::Duplicate, Some(Severity::Critical), "", 0, Some(&a)));
        builder.add(&row(Outcome::Duplicate, Some(Severity::Low), "", 0, Some(&b)));
        builder.add(&row(Outcome::Rejected, None, "email:compliance", 0, None));
        let report = builder.finish();
        assert_eq!(
            report.processed,
            Processed { total: 24, routed: 21, duplicate: 2, rejected: 1 }
        );
        assert_eq!(report.routed_without_destination, 1);
        assert_eq!(report.severity_distribution[0].severity, Severity::Critical);
        assert_eq!(report.severity_distribution[0].count, 1);
        assert_eq!(report.severity_distribution[1].count, 20);
        let high = &report.sla_by_severity[1];
        assert_eq!((high.count, high.max, high.p50, high.p95), (20, 20, 10, 19));
        assert!((high.average - 10.5).abs() < 1e-9);
        assert_eq!(
            report.dedup,
            DedupStats { total: 23, unique_fingerprints: 22, duplicates_suppressed: 2 }
        );
    }
}
