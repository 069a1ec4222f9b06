//! Every real file of the corpus goes through `triage run`: with its field map
//! (tests/fixtures/corpus-configs) every record is processed; with no config
//! each is processed or rejected with a reason, and nothing panics.

#![allow(clippy::unwrap_used)]

mod common;

use common::{corpus, counts, repo, run_json};

/// (file, config, read, new, rejected) with the file's field map.
const MAPPED: &[(&str, Option<&str>, u64, u64, u64)] = &[
    ("email-json/gmail-multipartAlternativeDraft.json", None, 1, 1, 0),
    ("email-json/gmail-multipartAlternativeMessage.json", None, 1, 1, 0),
    ("email-json/gmail-multipartAlternativeWithAttachmentsMessage.json", None, 1, 1, 0),
    ("email-json/gmail-plainTextMessage.json", None, 1, 1, 0),
    ("transactions-csv/amlsim-accounts.csv", Some("amlsim-accounts"), 30, 30, 0),
    ("transactions-csv/amlsim-alerts.csv", Some("amlsim-alerts"), 2, 2, 0),
    ("transactions-csv/amlsim-cash_tx.csv", Some("amlsim-tx"), 88, 88, 0),
    ("transactions-csv/amlsim-tx.csv", Some("amlsim-tx"), 45, 45, 0),
    ("transactions-csv/csv2ofx-c24.csv", Some("csv2ofx-c24"), 3, 3, 0),
    ("transactions-csv/csv2ofx-creditunion.csv", Some("csv2ofx-creditunion"), 8, 8, 0),
    ("transactions-csv/csv2ofx-dbs.csv", Some("csv2ofx-dbs"), 9, 9, 0),
    ("transactions-csv/csv2ofx-gls.csv", Some("csv2ofx-gls"), 1, 1, 0),
    ("transactions-csv/csv2ofx-ingesp.csv", Some("csv2ofx-ingesp"), 10, 10, 0),
    ("transactions-csv/csv2ofx-n26-fr.csv", Some("csv2ofx-n26-fr"), 2, 2, 0),
    ("transactions-csv/csv2ofx-outbank.csv", Some("csv2ofx-outbank"), 4, 4, 0),
    ("transactions-csv/csv2ofx-payoneer.csv", Some("csv2ofx-payoneer"), 2, 2, 0),
    ("transactions-csv/csv2ofx-sparkasse.csv", Some("csv2ofx-sparkasse"), 1, 1, 0),
    ("transactions-csv/csv2ofx-sumup.csv", Some("csv2ofx-sumup"), 5, 5, 0),
    ("transactions-csv/csv2ofx-ubs-ch-fr_trimmed.csv", Some("csv2ofx-ubs-ch-fr"), 3, 3, 0),
    ("sanctions/ofac-sdn-excerpt.csv", Some("ofac-sdn-excerpt"), 130, 130, 0),
];

#[test]
fn every_corpus_file_is_processed_with_its_field_map() {
    for (file, config, read, new, rejected) in MAPPED {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let config_path =
            config.map(|c| repo().join(format!("tests/fixtures/corpus-configs/{c}.toml")));
        let extra: Vec<&str> = match &config_path {
            Some(path) => vec!["--config", path.to_str().unwrap()],
            None => vec![],
        };
        let (code, summary) = run_json(&db, &extra, &[corpus(file).as_path()]);
        assert_eq!(counts(&summary), (*read, *new, 0, *rejected), "{file}: {summary}");
        assert_eq!(code, 0, "{file}: {summary}");
        assert_eq!(summary["quarantined"], serde_json::json!([]), "{file}");
    }
}

#[test]
fn mapped_values_are_normalised() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let config = repo().join("tests/fixtures/corpus-configs/csv2ofx-gls.toml");
    run_json(
        &db,
        &["--config", config.to_str().unwrap()],
        &[corpus("transactions-csv/csv2ofx-gls.csv").as_path()],
    );
    let payload: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT payload FROM audit_log", [], |r| r.get(0))
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
    // ISO-8859-1 decoded, decimal comma read, date in UTC.
    assert_eq!(payload["amount"], "-98.76");
    assert_eq!(payload["Kontostand"], "1.234,56");
    assert_eq!(payload["currency"], "EUR");
    assert_eq!(payload["created_at"], "2017-10-10T00:00:00Z");
    assert_eq!(payload["Auftraggeber/Empfänger"], "Drillisch Online AG");
}

/// (file, read, new, rejected, quarantined) with no config at all.
const UNMAPPED: &[(&str, u64, u64, u64, usize)] = &[
    ("transactions-csv/amlsim-accounts.csv", 30, 0, 30, 0),
    ("transactions-csv/amlsim-alerts.csv", 2, 0, 2, 0),
    ("transactions-csv/amlsim-cash_tx.csv", 88, 88, 0, 0),
    ("transactions-csv/amlsim-tx.csv", 45, 45, 0, 0),
    ("transactions-csv/csv2ofx-c24.csv", 3, 0, 3, 0),
    ("transactions-csv/csv2ofx-creditunion.csv", 8, 0, 8, 0),
    ("transactions-csv/csv2ofx-dbs.csv", 13, 0, 13, 0),
    ("transactions-csv/csv2ofx-gls.csv", 0, 0, 0, 1),
    ("transactions-csv/csv2ofx-ingesp.csv", 10, 0, 10, 0),
    ("transactions-csv/csv2ofx-n26-fr.csv", 2, 0, 2, 0),
    ("transactions-csv/csv2ofx-outbank.csv", 4, 0, 4, 0),
    ("transactions-csv/csv2ofx-payoneer.csv", 2, 0, 2, 0),
    ("transactions-csv/csv2ofx-sparkasse.csv", 1, 0, 1, 0),
    ("transactions-csv/csv2ofx-sumup.csv", 5, 0, 5, 0),
    ("transactions-csv/csv2ofx-ubs-ch-fr_trimmed.csv", 3, 0, 3, 0),
    ("sanctions/ofac-sdn-excerpt.csv", 129, 0, 129, 0),
];

#[test]
fn without_a_field_map_every_record_is_processed_or_rejected_with_a_reason() {
    for (file, read, new, rejected, quarantined) in UNMAPPED {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let (code, summary) = run_json(&db, &[], &[corpus(file).as_path()]);
        assert_eq!(counts(&summary), (*read, *new, 0, *rejected), "{file}: {summary}");
        assert_eq!(summary["quarantined"].as_array().unwrap().len(), *quarantined, "{file}");
        assert_eq!(code, if rejected + *quarantined as u64 > 0 { 2 } else { 0 }, "{file}");
        for note in summary["rejections"].as_array().unwrap() {
            let (origin, reason) =
                (note["origin"].as_str().unwrap(), note["reason"].as_str().unwrap());
            assert!(
                origin.contains(file.rsplit('/').next().unwrap()) && origin.contains(':'),
                "{origin}"
            );
            assert!(
                reason.starts_with("field `") || reason.starts_with("not valid"),
                "{file}: {reason}"
            );
        }
    }
}
