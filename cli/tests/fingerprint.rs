//! Fingerprints: checked against an independent RFC 8785 implementation
//! (Python `rfc8785`, installed by tests/run.sh), and equal for the same
//! alert spelled differently.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{counts, run_json};

/// E-mail alerts with the values RFC 8785 is picky about.
const TRICKY: &str = r#"[
 {"message_id": "J-1", "subject": "Ünïcödé ✓ 𝄞 emoji 🚨", "body": "tab\there \"quoted\" \\ back\u0001slash",
  "risk_score": 87.0, "extra": {"big": 1e+16, "huge": 1e21, "tiny": 0.0001, "neg": -0.0, "int": 42,
  "nested": [1, "two", {"z": null, "a": true, "é": [], "\u00e9t\u00e9": {}}]}, "€uro": "€"},
 {"message_id": "J-2", "subject": "astral 😀 and CJK 中文 and RTL שלום", "risk_score": "0.1",
  "weird keys": {"\ud83d\ude00": 1, "a": 2, "\u0080": 3, "b\u0000": 4}, "created_at": "2024-12-12T17:00:00+05:00"},
 {"message_id": "J-3", "subject": "numbers", "risk_score": 33.333333333333336,
  "amount": 1234.5, "list": [1.5e-7, 123456789012, 9007199254740991, 5e-324, 1.7976931348623157e308]}
]"#;

#[test]
#[ignore = "needs the Python venv with rfc8785: run tests/run.sh"]
fn fingerprints_match_an_independent_rfc8785_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let drop = dir.path().join("tricky.json");
    std::fs::write(&drop, TRICKY).unwrap();
    let samples = common::drops("");
    let (_, summary) = run_json(&db, &[], &[drop.as_path(), samples.as_path()]);
    assert_eq!(counts(&summary).1, 87, "{summary}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut statement = conn
        .prepare("SELECT payload, source, alert_hash FROM audit_log WHERE alert_hash IS NOT NULL")
        .unwrap();
    let lines: Vec<String> = statement
        .query_map([], |r| {
            Ok(serde_json::json!({
                "payload": r.get::<_, String>(0)?, "source": r.get::<_, String>(1)?,
                "alert_hash": r.get::<_, String>(2)?,
            })
            .to_string())
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(lines.len(), 87);

    let venv = std::env::var("TRIAGE_VENV")
        .unwrap_or_else(|_| common::repo().join(".venv").display().to_string());
    let mut child = Command::new(format!("{venv}/bin/python"))
        .arg(common::repo().join("tests").join("jcs_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the venv's python (run tests/run.sh)");
    child.stdin.take().unwrap().write_all(lines.join("\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_eq!(stdout.trim(), "87 checked");
}

#[test]
fn one_fingerprint_for_one_alert_however_spelled() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let json_a = write(
        "a.json",
        br#"[{"message_id": "M-7", "risk_score": "91", "created_at": "2024-12-12T17:00:00+05:00", "country": "ir"}]"#,
    );
    let json_b = write(
        "b.json",
        b"\xef\xbb\xbf{\"created_at\": \"2024-12-12T12:00:00Z\", \"risk_score\": 91,\n \"country\": \" IR \", \"message_id\": \" M-7 \"}\n",
    );
    let json_c = write("c.ndjson", b"{\"id\": \"M-7\", \"score\": 91.0, \"timestamp\": \"2024-12-12T12:00:00Z\", \"country_code\": \"IR\"}\n");
    let csv_a = write("a.csv", b"txn_id;amount;risk_score\nT-1;1.234,56;75\n");
    let csv_b = write("b.csv", b"\xef\xbb\xbftxn_id,amount,risk_score\r\nT-1,1234.560,75.0\r\n");
    let csv_c = write("c.csv", b"Transaction_ID,Amount,Score\nT-1,\"1,234.56\",75\n");
    let db = dir.path().join("t.db");
    let (_, summary) = run_json(
        &db,
        &[],
        &[
            json_a.as_path(),
            json_b.as_path(),
            json_c.as_path(),
            csv_a.as_path(),
            csv_b.as_path(),
            csv_c.as_path(),
        ],
    );
    assert_eq!(counts(&summary), (6, 2, 4, 0), "{summary}");
    assert_eq!(common::sql(&db, "SELECT COUNT(DISTINCT alert_hash) FROM audit_log"), 2);
    // The fingerprint of the CSV row, recomputed by hand from its canonical form.
    let payload = r#"{"amount":"1234.56","risk_score":75,"txn_id":"T-1"}"#;
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (stored, hash): (String, String) = conn
        .query_row(
            "SELECT payload, alert_hash FROM audit_log WHERE source = 'csv' AND outcome = 'routed'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(stored, payload);
    assert_eq!(hash, "99c43ec028139cc91fcc874c5cdd3ae800b645bcb09da89f116027813351cd57");
}
