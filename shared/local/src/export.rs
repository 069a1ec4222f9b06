//! The examiners' questions from a DynamoDB export of the cloud audit table:
//! the gzipped DynamoDB-JSON lines that `ExportTableToPointInTime` writes
//! under `AWSDynamoDB/<export id>/data/`, read one line at a time.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde_json::Value;
use triage_core::Severity;
use triage_core::audit::Outcome;
use triage_core::report::{AuditReport, ReportBuilder, ReportRow};

use crate::error::LocalError;

/// Reads every gzipped data file under `dir` (AWS names them `*.json.gz`,
/// moto `*.gz`) into the audit report.
pub fn report_from_export(dir: &Path) -> Result<AuditReport, LocalError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    if files.is_empty() {
        return Err(LocalError::Export {
            path: dir.to_path_buf(),
            line: None,
            message: "no gzipped data files (expected AWSDynamoDB/<id>/data/*.json.gz)".into(),
        });
    }
    let mut builder = ReportBuilder::default();
    for file in files {
        let reader = BufReader::new(MultiGzDecoder::new(
            File::open(&file).map_err(|e| LocalError::io(&file, e))?,
        ));
        for (at, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| LocalError::io(&file, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let error = |message: String| LocalError::Export {
                path: file.clone(),
                line: Some(at + 1),
                message,
            };
            let value: Value =
                serde_json::from_str(&line).map_err(|e| error(format!("not JSON: {e}")))?;
            let item = value.get("Item").unwrap_or(&value);
            let row = row_of(item).map_err(error)?;
            for (destination, state) in deliveries(item) {
                builder.add_delivery(&destination, &state, 1);
            }
            builder.add(&row);
        }
    }
    Ok(builder.finish())
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), LocalError> {
    for entry in crate::drops::sorted_entries(dir)? {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "gz") {
            files.push(path);
        }
    }
    Ok(())
}

/// A string attribute (`{"S": ...}`).
fn string<'a>(item: &'a Value, name: &str) -> Option<&'a str> {
    item.get(name)?.get("S")?.as_str()
}

fn row_of(item: &Value) -> Result<ReportRow, String> {
    let outcome = match string(item, "outcome") {
        Some("routed") => Outcome::Routed,
        Some("duplicate") => Outcome::Duplicate,
        Some("rejected") => Outcome::Rejected,
        other => return Err(format!("item has no known `outcome` ({other:?})")),
    };
    let sla_seconds = item
        .get("sla_seconds")
        .and_then(|v| v.get("N"))
        .and_then(Value::as_str)
        .and_then(|n| n.parse().ok())
        .ok_or("item has no numeric `sla_seconds`")?;
    Ok(ReportRow {
        outcome,
        severity: string(item, "severity").and_then(Severity::from_hint),
        routed_to: string(item, "routed_to").unwrap_or("").to_string(),
        sla_seconds,
        alert_hash: string(item, "fingerprint").map(str::to_string),
    })
}

/// (destination, state) of each entry of the `deliveries` map.
fn deliveries(item: &Value) -> Vec<(String, String)> {
    let Some(map) = item.get("deliveries").and_then(|d| d.get("M")).and_then(Value::as_object)
    else {
        return Vec::new();
    };
    map.iter()
        .map(|(destination, entry)| {
            let state = entry.get("M").and_then(|m| string(m, "state")).unwrap_or("unknown");
            (destination.clone(), state.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    #[test]
    fn reads_dynamodb_json_lines_from_an_export() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("AWSDynamoDB").join("01234-abcd").join("data");
        std::fs::create_dir_all(&data).unwrap();
        let item = |outcome: &str,
                    severity: &str,
                    to: &str,
                    sla: i64,
                    hash: Option<&str>,
                    state: &str| {
            let mut item = serde_json::json!({
                "alert_hash": {"S": hash.unwrap_or("rejected#x")},
                "event": {"S": "2024-12-12T12:00:00Z#run#00000001"},
                "outcome": {"S": outcome}, "routed_to": {"S": to}, "sla_seconds": {"N": sla.to_string()},
                "deliveries": {"M": {}},
            });
            if !severity.is_empty() {
                item["severity"] = serde_json::json!({"S": severity});
            }
            if let Some(hash) = hash {
                item["fingerprint"] = serde_json::json!({"S": hash});
            }
            for destination in to.split(',').filter(|d| !d.is_empty()) {
                item["deliveries"]["M"][destination] =
                    serde_json::json!({"M": {"state": {"S": state}}});
            }
            serde_json::json!({ "Item": item }).to_string()
        };
        let a = "a".repeat(64);
        let lines = [
            item(
                "routed",
                "critical",
                "slack:compliance-critical,email:compliance-leads",
                60,
                Some(&a),
                "sent",
            ),
            item("duplicate", "critical", "", 0, Some(&a), ""),
            item("routed", "low", "email:archive", 120, Some(&"b".repeat(64)), "failed"),
            item("rejected", "", "email:compliance", 0, None, "pending"),
        ];
        let mut gz = GzEncoder::new(
            File::create(data.join("part-0.json.gz")).unwrap(),
            Compression::default(),
        );
        gz.write_all(lines.join("\n").as_bytes()).unwrap();
        gz.finish().unwrap();
        let report = report_from_export(dir.path()).unwrap();
        assert_eq!(
            (report.processed.total, report.processed.routed, report.processed.duplicate),
            (4, 2, 1)
        );
        assert_eq!(report.processed.rejected, 1);
        assert_eq!(report.dedup.unique_fingerprints, 2);
        assert_eq!(report.routed_without_destination, 0);
        let states: Vec<(String, String, u64)> = report
            .deliveries
            .iter()
            .map(|d| (d.destination.clone(), d.state.clone(), d.count))
            .collect();
        assert_eq!(
            states,
            [
                ("email:archive".into(), "failed".into(), 1),
                ("email:compliance".into(), "pending".into(), 1),
                ("email:compliance-leads".into(), "sent".into(), 1),
                ("slack:compliance-critical".into(), "sent".into(), 1),
            ]
        );
    }
}
