//! `triage run` end to end on the bundled sample drops and on bad input:
//! exact counts, severities, the audit log, exit codes.

#![allow(clippy::unwrap_used)]

mod common;

use common::{counts, drops, run_json, sql, triage};
use serde_json::json;

/// The valid sample drops: 30 vendor e-mails, 50 transactions, 1 Gmail message.
fn valid_samples() -> Vec<std::path::PathBuf> {
    vec![drops("vendor-alerts.json"), drops("transactions.csv"), drops("gmail-alert.json")]
}

#[test]
fn samples_route_then_all_duplicate_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let paths = valid_samples();
    let paths: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();

    let (code, first) = run_json(&db, &[], &paths);
    assert_eq!(code, 0, "{first}");
    assert_eq!(counts(&first), (81, 81, 0, 0));
    assert_eq!(first["by_severity"], json!({"critical": 10, "high": 29, "medium": 19, "low": 23}));
    assert_eq!(
        first["by_destination"],
        json!({
            "slack:compliance-critical": 10, "email:compliance-leads": 10,
            "slack:compliance-high": 29, "email:compliance": 29,
            "slack:compliance-info": 19, "email:archive": 23
        })
    );
    assert_eq!(first["dry_run"], json!(true));

    let (code, second) = run_json(&db, &[], &paths);
    assert_eq!(code, 0);
    assert_eq!(counts(&second), (81, 0, 81, 0));
    assert_eq!(second["by_destination"], json!({}));

    assert_eq!(sql(&db, "SELECT COUNT(*) FROM audit_log"), 162);
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM audit_log WHERE outcome = 'routed'"), 81);
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM audit_log WHERE outcome = 'duplicate'"), 81);
    assert_eq!(sql(&db, "SELECT COUNT(DISTINCT alert_hash) FROM audit_log"), 81);
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM dedup_index"), 81);
    // Every routed alert has its destinations; a dry run queues no delivery.
    assert_eq!(
        sql(&db, "SELECT COUNT(*) FROM audit_log WHERE outcome = 'routed' AND routed_to = ''"),
        0
    );
    assert_eq!(
        sql(&db, "SELECT COUNT(*) FROM audit_log WHERE outcome = 'routed' AND dry_run = 1"),
        81
    );
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM delivery"), 0);
}

#[test]
fn bundled_run_with_bad_rows_rejects_with_reasons_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    // No path: the bundled sample drops, bad files included.
    let (code, stdout, _) = triage(&["run", "--db", db.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("alerts read 91 = new 84 + duplicate 0 + rejected 7"), "{stdout}");
    assert!(
        stdout.contains("new by severity: critical 10, high 31, medium 20, low 23"),
        "{stdout}"
    );
    for expected in [
        "bad-rows.csv:2 [0]: field `risk_score`: \"abc\" is not a number",
        "bad-rows.csv:3 [1]: field `risk_score`: 150 is outside 0-100",
        "bad-rows.csv:4 [2]: field `risk_score`: -1 is outside 0-100",
        "bad-rows.csv:5 [3]: field `risk_score`: \"NaN\" is not a number",
        "bad-rows.csv:6 [4]: field `created_at`: \"yesterday\" is not a supported timestamp (ISO 8601, RFC 2822, epoch milliseconds or [timestamps] extra_formats)",
        "bad-alerts.json:2 [0]: field `risk_score`: \"high\" is not a number",
        "bad-alerts.json:12 [1]: not valid JSON at line 19: key \"risk_score\" appears twice in one object",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in\n{stdout}");
    }
    // Rejected alerts are audited without a fingerprint and routed to the rejected row.
    assert_eq!(
        sql(
            &db,
            "SELECT COUNT(*) FROM audit_log WHERE outcome = 'rejected' AND alert_hash IS NULL"
        ),
        7
    );
    assert_eq!(
        sql(
            &db,
            "SELECT COUNT(*) FROM audit_log WHERE outcome = 'rejected' AND routed_to = 'email:compliance'"
        ),
        7
    );
    let (code, stdout, _) = triage(&["run", "--db", db.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stdout.contains("alerts read 91 = new 0 + duplicate 84 + rejected 7"), "{stdout}");
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM audit_log"), 182);
    assert_eq!(sql(&db, "SELECT COUNT(DISTINCT alert_hash) FROM audit_log"), 84);
}

#[test]
fn dedup_window_expires_and_renews() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let csv = drops("transactions.csv");
    let at = |now: &str| run_json(&db, &["--now", now], &[csv.as_path()]).1;
    assert_eq!(counts(&at("2025-01-01T00:00:00Z")), (50, 50, 0, 0));
    // Exactly at the end of the 24 h window it is still a duplicate.
    assert_eq!(counts(&at("2025-01-02T00:00:00Z")), (50, 0, 50, 0));
    // After it, new again, and the first-seen time is renewed.
    assert_eq!(counts(&at("2025-01-02T00:00:01Z")), (50, 50, 0, 0));
    assert_eq!(counts(&at("2025-01-02T12:00:00Z")), (50, 0, 50, 0));
    // A shorter window from the command line.
    let short =
        run_json(&db, &["--now", "2025-01-02T01:00:02Z", "--window", "60"], &[csv.as_path()]).1;
    assert_eq!(counts(&short), (50, 50, 0, 0));
}

#[test]
fn two_runs_sharing_one_database_claim_each_alert_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let paths = valid_samples();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            let paths = paths.clone();
            std::thread::spawn(move || {
                let paths: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
                run_json(&db, &[], &paths).1
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let new: u64 = results.iter().map(|r| counts(r).1).sum();
    let duplicate: u64 = results.iter().map(|r| counts(r).2).sum();
    assert_eq!((new, duplicate), (81, 81));
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM audit_log WHERE outcome = 'routed'"), 81);
}

#[test]
fn unreadable_drops_are_quarantined_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(input.join(name), bytes).unwrap();
    write("a-empty.csv", b"");
    write("b-header-only.csv", b"txn_id,amount,risk_score\n");
    write("c-latin1.csv", b"txn_id,Empf\xe4nger\nT-1,x\n");
    write(
        "d-truncated.json",
        br#"[{"message_id": "M-1", "risk_score": 95}, {"message_id": "M-2", "subj"#,
    );
    write("e-missing-column.csv", b"customer_id,amount\nC-1,5\nC-2,6\n");
    write("f-good.csv", b"txn_id,risk_score\nT-9,91\n");
    let (code, summary) = run_json(&db, &[], &[input.as_path()]);
    assert_eq!(code, 2, "{summary}");
    // Records: M-1 (critical), two rows missing txn_id, T-9 (critical).
    assert_eq!(counts(&summary), (4, 2, 0, 2));
    assert_eq!(summary["files"], json!(6));
    let quarantined: Vec<String> = summary["quarantined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["report"].as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(quarantined.len(), 4, "{quarantined:?}");
    assert!(quarantined[0].starts_with("a-empty.csv: the drop is empty"), "{quarantined:?}");
    assert!(
        quarantined[1].starts_with("b-header-only.csv: no records after the header"),
        "{quarantined:?}"
    );
    assert!(
        quarantined[2].starts_with("c-latin1.csv:1: column 2 of the header is not UTF-8"),
        "{quarantined:?}"
    );
    assert!(
        quarantined[3].starts_with("d-truncated.json:1: the file ends inside a record"),
        "{quarantined:?}"
    );
    let reasons: Vec<&str> = summary["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["field `txn_id`: required field is missing or empty"; 2]);
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM drops WHERE status = 'quarantined'"), 4);
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM drops WHERE status = 'processed'"), 2);
}

#[test]
fn move_option_files_drops_into_processed_and_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("good.csv"), "txn_id,risk_score\nT-1,10\n").unwrap();
    std::fs::write(input.join("bad.json"), "[{").unwrap();
    let (code, _) = run_json(&db, &["--move"], &[input.as_path()]);
    assert_eq!(code, 2);
    assert!(input.join("processed/good.csv").exists());
    assert!(input.join("quarantine/bad.json").exists());
    let report = std::fs::read_to_string(input.join("quarantine/bad.json.error.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["records_processed_before_error"], json!(0));
    assert_eq!(report["line"], json!(1));
    // A second run finds nothing left to read.
    let (code, _, stderr) = triage(&["run", "--db", db.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no drop files"), "{stderr}");
}

#[test]
fn audit_answers_the_examiners_questions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let dbs = db.to_str().unwrap();
    triage(&["run", "--db", dbs, "--now", "2024-12-13T12:00:00Z"]);
    triage(&["run", "--db", dbs, "--now", "2024-12-13T12:05:00Z"]);
    let (code, stdout, stderr) = triage(&["audit", "--db", dbs, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["processed"],
        json!({"total": 182, "routed": 84, "duplicate": 84, "rejected": 14})
    );
    assert_eq!(report["routed_without_destination"], json!(0));
    assert_eq!(
        report["dedup"],
        json!({"total": 168, "unique_fingerprints": 84, "duplicates_suppressed": 84})
    );
    let shares: Vec<(String, u64)> = report["severity_distribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["severity"].as_str().unwrap().to_string(), s["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        shares,
        [("critical".into(), 10), ("high".into(), 31), ("medium".into(), 20), ("low".into(), 23)]
    );
    let (code, csv, _) = triage(&["audit", "--db", dbs, "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(csv.contains("severity,critical,percent,11.90\n"), "{csv}");
    assert!(csv.contains("delivery,email:compliance,dry_run,45\n"), "{csv}");
    let (code, table, _) = triage(&["audit", "--db", dbs]);
    assert_eq!(code, 0);
    assert!(table.contains("3. routed with no destination: 0"), "{table}");
}

#[test]
fn config_check_names_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, "[dedup]\nwindow_minutes = 60\n\n[csv]\ndelimiter = \"ab\"\n").unwrap();
    let (code, _, stderr) = triage(&["config", "check", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr
            .contains("rules.toml: line 5: `csv.delimiter`: \"ab\" is not `auto` or one character"),
        "{stderr}"
    );
    let (code, stdout, _) = triage(&["config", "show"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("window_minutes = 1440"), "{stdout}");
}

#[test]
fn send_posts_one_slack_message_per_alert_and_channel() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    // A Slack stand-in on 127.0.0.1 that records (path, body) of each post.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let path = request.split_whitespace().nth(1).unwrap().to_string();
            log.lock().unwrap().push((path, String::from_utf8(body).unwrap()));
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .unwrap();
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let drop = dir.path().join("alerts.json");
    std::fs::write(
        &drop,
        r#"[{"message_id": "S-1", "subject": "<!channel> wire @here <https://evil.example|login>", "risk_score": 95},
            {"message_id": "S-2", "subject": "routine", "risk_score": 50},
            {"message_id": "S-3", "subject": "quiet", "risk_score": 5}]"#,
    )
    .unwrap();
    let db = dir.path().join("t.db");
    let url = |channel: &str| format!("http://127.0.0.1:{port}/hook/{channel}");
    let send = || -> serde_json::Value {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(["run", "--send", "--json", "--db", db.to_str().unwrap(), drop.to_str().unwrap()])
            .env("TRIAGE_SLACK_COMPLIANCE_CRITICAL", url("critical"))
            .env("TRIAGE_SLACK_COMPLIANCE_HIGH", url("high"))
            .env("TRIAGE_SLACK_COMPLIANCE_INFO", url("info"))
            .output()
            .unwrap();
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let summary = send();
    assert_eq!(summary["deliveries_sent"], json!(2), "{summary}");
    let mut posts = received.lock().unwrap().clone();
    posts.sort();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].0, "/hook/critical");
    assert_eq!(posts[1].0, "/hook/info");
    let text: serde_json::Value = serde_json::from_str(&posts[0].1).unwrap();
    let text = text["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "*[CRITICAL] &lt;!channel&gt; wire @\u{2060}here &lt;https://evil.example|login&gt;*"
        ),
        "{text}"
    );
    assert!(!text.contains('<'), "{text}");
    // Slack deliveries are sent; e-mail has no local transport and stays pending.
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM delivery WHERE state = 'sent' AND attempts = 1"), 2);
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM delivery WHERE state = 'pending'"), 2);
    // A second run does not post again.
    let again = send();
    assert_eq!(again["deliveries_sent"], json!(0), "{again}");
    assert_eq!(received.lock().unwrap().len(), 2);
}

#[test]
fn the_database_is_never_read_as_a_drop_nor_moved() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(drops("transactions.csv"), dir.path().join("transactions.csv")).unwrap();
    let here = dir.path().to_str().unwrap();
    let db = dir.path().join("triage.db");
    let (code, first) = run_json(&db, &["--move"], &[dir.path()]);
    assert_eq!((code, counts(&first)), (0, (50, 50, 0, 0)), "{first}");
    std::fs::copy(drops("transactions.csv"), dir.path().join("transactions.csv")).unwrap();
    // The database (and its -wal/-shm) sit in the folder being read.
    let (code, second) = run_json(&db, &["--move"], &[dir.path()]);
    assert_eq!((code, counts(&second)), (0, (50, 0, 50, 0)), "{second}");
    assert_eq!(second["files"], json!(1));
    assert!(db.exists(), "the database stays where it is");
    assert_eq!(sql(&db, "SELECT COUNT(*) FROM audit_log"), 100);
    // The second copy did not overwrite the first in processed/.
    let processed: Vec<String> = std::fs::read_dir(dir.path().join("processed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(processed.len(), 2, "{processed:?} in {here}");
}

#[test]
fn usage_errors_and_impossible_windows_exit_1() {
    let (code, _, stderr) = triage(&["run", "--bogus"]);
    assert_eq!(code, 1, "{stderr}");
    let (code, _, stderr) = triage(&["run", "--window", "153722867280912931"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--window must be from 1 to 5270400 minutes"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(&path, "[dedup]\nwindow_minutes = 9223372036854775807\n").unwrap();
    let (code, _, stderr) = triage(&["config", "check", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("line 2: `dedup.window_minutes`: must be from 1 to 5270400"),
        "{stderr}"
    );
}

#[test]
fn a_misspelt_fingerprint_field_rejects_instead_of_merging_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("f.toml");
    std::fs::write(&config, "[dedup]\nfingerprint_fields = { csv = [\"txn_idd\"] }\n").unwrap();
    let db = dir.path().join("t.db");
    let (code, summary) = run_json(
        &db,
        &["--config", config.to_str().unwrap()],
        &[drops("transactions.csv").as_path()],
    );
    assert_eq!((code, counts(&summary)), (2, (50, 0, 0, 50)), "{summary}");
    let reason = summary["rejections"][0]["reason"].as_str().unwrap();
    assert_eq!(
        reason,
        "field `txn_idd`: fingerprint field (see [dedup] fingerprint_fields) is missing"
    );
}

#[test]
fn import_legacy_keeps_the_old_systems_alerts_suppressed_for_their_window() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let legacy = common::corpus("legacy/legacy_audit.db");
    let (code, stdout, stderr) =
        triage(&["import-legacy", legacy.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("read 360 audit rows of "), "{stdout}");
    assert!(stdout.contains("; 360 fingerprints now suppressed in "), "{stdout}");
    assert_eq!(
        sql(&db, "SELECT COUNT(*) FROM dedup_index WHERE first_seen_utc = '2026-11-30T09:00:00Z'"),
        360
    );
    // The old system's inputs, sent again inside the window: all duplicates.
    let inputs = [
        common::corpus("legacy/legacy_emails.json"),
        common::corpus("legacy/legacy_transactions.csv"),
    ];
    let inputs: Vec<&std::path::Path> = inputs.iter().map(|p| p.as_path()).collect();
    let (_, inside) = run_json(&db, &["--now", "2026-11-30T10:00:00Z"], &inputs);
    assert_eq!(counts(&inside), (400, 0, 400, 0), "{inside}");
    // A day after the old first-seen time the window has ended.
    let (_, after) = run_json(&db, &["--now", "2026-12-01T09:00:01Z"], &inputs);
    assert_eq!(counts(&after), (400, 360, 40, 0), "{after}");
}
