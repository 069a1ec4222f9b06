//! Same decisions as the old system where SPEC does not deliberately differ:
//! with `csv_hint_from_score = 80`, 10,000 generated alerts get the same
//! severity and destinations per alert, and the same duplicate count, as the
//! reference implementation of the old system gives.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use common::{counts, repo, run_json};

/// id -> (severity, routed_to) of the routed alerts in an audit log.
fn decisions(db: &Path, id_keys: &[&str]) -> HashMap<String, (String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let has_outcome: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('audit_log') WHERE name = 'outcome'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let query = if has_outcome == 1 {
        "SELECT payload, severity, routed_to FROM audit_log WHERE outcome = 'routed'"
    } else {
        "SELECT payload, severity, routed_to FROM audit_log"
    };
    let mut statement = conn.prepare(query).unwrap();
    let rows = statement
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })
        .unwrap();
    let mut out = HashMap::new();
    for row in rows {
        let (payload, severity, routed_to) = row.unwrap();
        let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let id = id_keys
            .iter()
            .find_map(|k| payload[*k].as_str())
            .unwrap_or_else(|| panic!("no id in {payload}"))
            .to_string();
        assert!(out.insert(id.clone(), (severity, routed_to)).is_none(), "{id} routed twice");
    }
    out
}

fn python(script: &Path, args: &[&str]) -> String {
    let output = Command::new("python3").arg(script).args(args).output().expect("python3 runs");
    assert!(
        output.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn same_decisions_as_the_old_system_on_10k_generated_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let reference = repo().join("tests").join("reference");
    let (emails, txns) = (dir.path().join("e.json"), dir.path().join("t.csv"));
    let manifest = dir.path().join("manifest.json");
    python(
        &reference.join("gen.py"),
        &[
            "--emails-out",
            emails.to_str().unwrap(),
            "--txns-out",
            txns.to_str().unwrap(),
            "--n",
            "10000",
            "--seed",
            "42",
            "--dup-rate",
            "0.2",
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    let legacy_db = dir.path().join("legacy.db");
    let now = "2024-12-13T12:00:00Z";
    let legacy: serde_json::Value = serde_json::from_str(&python(
        &reference.join("legacy_ref.py"),
        &[
            "--emails",
            emails.to_str().unwrap(),
            "--transactions",
            txns.to_str().unwrap(),
            "--db",
            legacy_db.to_str().unwrap(),
            "--commit",
            "end",
            "--now",
            now,
        ],
    ))
    .unwrap();

    let config = dir.path().join("legacy.toml");
    std::fs::write(&config, "[ingest]\ncsv_hint_from_score = 80\n").unwrap();
    let db = dir.path().join("ours.db");
    let (code, ours) = run_json(
        &db,
        &["--config", config.to_str().unwrap(), "--now", now],
        &[emails.as_path(), txns.as_path()],
    );
    assert_eq!(code, 0, "{ours}");

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let (read, new, duplicate, rejected) = counts(&ours);
    assert_eq!(read, 10_000);
    assert_eq!(rejected, 0);
    assert_eq!(new, legacy["processed"].as_u64().unwrap());
    assert_eq!(duplicate, legacy["duplicates"].as_u64().unwrap());
    assert_eq!(duplicate, manifest["expected_duplicates"].as_u64().unwrap());
    assert_eq!(ours["by_severity"], legacy["by_severity"]);

    let theirs = decisions(&legacy_db, &["message_id", "external_id"]);
    let mine = decisions(&db, &["message_id", "txn_id"]);
    assert_eq!(mine.len(), theirs.len());
    let differing: Vec<_> =
        theirs.iter().filter(|(id, decision)| mine.get(*id) != Some(decision)).take(5).collect();
    assert!(differing.is_empty(), "decisions differ, e.g. {differing:?}");
}
