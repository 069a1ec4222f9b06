//! The parse module on the real-world corpus and the sample drops, with the
//! exact counts worked out from the files, and on hostile input: whatever
//! the bytes, every alert is a record or a rejection, and a file that cannot
//! be read says where.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use triage_core::normalise::RawRecord;
use triage_core::parse::{self, FileError, Item};
use triage_core::{Config, Engine, Rejected, Severity, Source};

/// What one drop yielded.
#[derive(Debug, Default)]
struct Read {
    records: Vec<RawRecord>,
    rejected: Vec<Rejected>,
    /// At most one: the error that ended the stream (or stopped it opening).
    errors: Vec<FileError>,
}

impl Read {
    fn counts(&self) -> (usize, usize, usize) {
        (self.records.len(), self.rejected.len(), self.errors.len())
    }

    fn error(&self) -> &FileError {
        self.errors.first().unwrap_or_else(|| panic!("expected a file error, got {self:?}"))
    }

    fn field(&self, at: usize, name: &str) -> Option<&str> {
        let record = self.records.get(at)?;
        record.fields.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.as_str())
    }
}

fn drop_with(name: &str, bytes: &[u8], config: &Config) -> Read {
    let mut read = Read::default();
    let items = match parse::records(name, bytes, config) {
        Ok(items) => items,
        Err(e) => {
            read.errors.push(e);
            return read;
        }
    };
    for item in items {
        assert!(read.errors.is_empty(), "{name}: an item after the file error {:?}", read.errors);
        match item {
            Ok(Item::Record(record)) => read.records.push(record),
            Ok(Item::Rejected(rejected)) => read.rejected.push(rejected),
            Err(e) => read.errors.push(e),
        }
    }
    read
}

fn drop_of(name: &str, bytes: &[u8]) -> Read {
    drop_with(name, bytes, &Config::default())
}

fn config(text: &str) -> Config {
    Config::from_toml(text).unwrap_or_else(|e| panic!("{e}"))
}

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

fn drop_file(relative: &str) -> Read {
    let path = repo(relative);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    drop_of(relative, &bytes)
}

/// How many records normalise accepts, and the fields of those it rejects.
fn normalised(read: &Read) -> (usize, Vec<String>) {
    let engine = Engine::new(Config::default());
    let mut accepted = 0;
    let mut fields = Vec::new();
    for record in &read.records {
        match engine.normalise(record.clone()) {
            Ok(_) => accepted += 1,
            Err(r) => fields.push(r.field.unwrap_or_default()),
        }
    }
    fields.sort();
    fields.dedup();
    (accepted, fields)
}

fn lines(read: &Read) -> Vec<Option<u64>> {
    read.records.iter().map(|r| r.origin.line).collect()
}

// ---------------------------------------------------------------- corpus

#[test]
fn every_corpus_file_is_listed_here() {
    // A new fixture must get its own expectations below.
    let mut found = Vec::new();
    for dir in ["email-json", "transactions-csv", "sanctions"] {
        for entry in
            std::fs::read_dir(repo(&format!("tests/fixtures/corpus/{dir}"))).expect("corpus")
        {
            let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
            if name != "SOURCES.md" {
                found.push(format!("{dir}/{name}"));
            }
        }
    }
    found.sort();
    let mut listed: Vec<String> = GMAIL
        .iter()
        .map(|g| g.file.to_string())
        .chain(CSV.iter().map(|c| c.file.to_string()))
        .collect();
    listed.sort();
    assert_eq!(found, listed);
}

struct GmailFile {
    file: &'static str,
    message_id: &'static str,
    subject: &'static str,
    vendor: &'static str,
    created_at: &'static str,
    body_start: &'static str,
}

const GMAIL: &[GmailFile] = &[
    GmailFile {
        file: "email-json/gmail-multipartAlternativeDraft.json",
        // The draft's own id (1524544835382926498) is not the message's.
        message_id: "1528457ea4ca6803",
        subject: "some subject text",
        vendor: "<example@example.com>",
        created_at: "2016-01-27T18:28:20Z",
        body_start: "Can it parse *draft *now? Sure can!\r\n",
    },
    GmailFile {
        file: "email-json/gmail-multipartAlternativeMessage.json",
        message_id: "151e0bfaf2fff98c",
        subject: "cool man",
        vendor: "example <example@example.com>",
        created_at: "2015-12-27T00:03:57Z",
        body_start: "wow\r\n",
    },
    GmailFile {
        file: "email-json/gmail-multipartAlternativeWithAttachmentsMessage.json",
        message_id: "151e0c038fd6b3b0",
        subject: "This is my jam",
        vendor: "example <example@example.com>",
        created_at: "2015-12-27T00:04:32Z",
        body_start: "cool *stuff*\r\n",
    },
    GmailFile {
        file: "email-json/gmail-plainTextMessage.json",
        message_id: "151e0bf2c42e466a",
        subject: "Subject Text",
        vendor: "example@example.com",
        created_at: "2015-12-27T00:03:23Z",
        body_start: "The actual message text goes here",
    },
];

#[test]
fn gmail_messages_yield_their_alert_fields() {
    let engine = Engine::new(Config::default());
    for want in GMAIL {
        let read = drop_file(&format!("tests/fixtures/corpus/{}", want.file));
        assert_eq!(read.counts(), (1, 0, 0), "{}", want.file);
        let record = &read.records[0];
        assert_eq!(record.source, Source::Gmail, "{}", want.file);
        assert_eq!((record.origin.line, record.origin.index), (Some(1), 0), "{}", want.file);
        let alert =
            engine.normalise(record.clone()).unwrap_or_else(|r| panic!("{}: {r}", want.file));
        assert_eq!(alert.text("message_id"), Some(want.message_id), "{}", want.file);
        assert_eq!(alert.text("subject"), Some(want.subject), "{}", want.file);
        assert_eq!(alert.text("vendor"), Some(want.vendor), "{}", want.file);
        assert_eq!(alert.text("created_at"), Some(want.created_at), "{}", want.file);
        let body: String = alert.text("body").unwrap_or_default().chars().take(40).collect();
        assert_eq!(body, want.body_start, "{}", want.file);
    }
}

struct CsvFile {
    file: &'static str,
    /// Records, rejections and file errors out of the parser.
    counts: (usize, usize, usize),
    /// Records normalisation accepts under the default config.
    accepted: usize,
    /// Fields named by the records normalisation rejects.
    rejected_fields: &'static [&'static str],
}

const CSV: &[CsvFile] = &[
    // No header row: the first data row is taken as the header, and its eight
    // `-0-` null markers are eight columns with one name.
    CsvFile {
        file: "sanctions/ofac-sdn-excerpt.csv",
        counts: (129, 0, 0),
        accepted: 0,
        rejected_fields: &["-0-"],
    },
    CsvFile {
        file: "transactions-csv/amlsim-accounts.csv",
        counts: (30, 0, 0),
        accepted: 0,
        rejected_fields: &["txn_id"],
    },
    // ACCOUNT_ID and CUSTOMER_ID both mean `customer_id`.
    CsvFile {
        file: "transactions-csv/amlsim-alerts.csv",
        counts: (2, 0, 0),
        accepted: 0,
        rejected_fields: &["customer_id"],
    },
    CsvFile {
        file: "transactions-csv/amlsim-cash_tx.csv",
        counts: (88, 0, 0),
        accepted: 88,
        rejected_fields: &[],
    },
    CsvFile {
        file: "transactions-csv/amlsim-tx.csv",
        counts: (45, 0, 0),
        accepted: 45,
        rejected_fields: &[],
    },
    CsvFile {
        file: "transactions-csv/csv2ofx-c24.csv",
        counts: (3, 0, 0),
        accepted: 0,
        rejected_fields: &["txn_id"],
    },
    // `2/8/15` is not a date SPEC accepts.
    CsvFile {
        file: "transactions-csv/csv2ofx-creditunion.csv",
        counts: (8, 0, 0),
        accepted: 0,
        rejected_fields: &["created_at"],
    },
    // The key/value preamble is read as the header (SPEC: header row required).
    CsvFile {
        file: "transactions-csv/csv2ofx-dbs.csv",
        counts: (13, 0, 0),
        accepted: 0,
        rejected_fields: &["txn_id"],
    },
    // ISO-8859-1 header without a BOM, default config: the file cannot be read.
    CsvFile {
        file: "transactions-csv/csv2ofx-gls.csv",
        counts: (0, 0, 1),
        accepted: 0,
        rejected_fields: &[],
    },
    CsvFile {
        file: "transactions-csv/csv2ofx-ingesp.csv",
        counts: (10, 0, 0),
        accepted: 0,
        rejected_fields: &["created_at"],
    },
    CsvFile {
        file: "transactions-csv/csv2ofx-n26-fr.csv",
        counts: (2, 0, 0),
        accepted: 0,
        rejected_fields: &["txn_id"],
    },
    CsvFile {
        file: "transactions-csv/csv2ofx-outbank.csv",
        counts: (4, 0, 0),
        accepted: 0,
        rejected_fields: &["created_at"],
    },
    CsvFile {
        file: "transactions-csv/csv2ofx-payoneer.csv",
        counts: (2, 0, 0),
        accepted: 0,
        rejected_fields: &["txn_id"],
    },
    CsvFile {
        file: "transactions-csv/csv2ofx-sparkasse.csv",
        counts: (1, 0, 0),
        accepted: 0,
        rejected_fields: &["txn_id"],
    },
    CsvFile {
        file: "transactions-csv/csv2ofx-sumup.csv",
        counts: (5, 0, 0),
        accepted: 0,
        rejected_fields: &["txn_id"],
    },
    CsvFile {
        file: "transactions-csv/csv2ofx-ubs-ch-fr_trimmed.csv",
        counts: (3, 0, 0),
        accepted: 0,
        rejected_fields: &["txn_id"],
    },
];

#[test]
fn csv_corpus_exact_counts() {
    for want in CSV {
        let read = drop_file(&format!("tests/fixtures/corpus/{}", want.file));
        assert_eq!(read.counts(), want.counts, "{}: {:?}", want.file, read.errors);
        assert!(read.records.iter().all(|r| r.source == Source::Csv), "{}", want.file);
        let indexes: Vec<u64> = read.records.iter().map(|r| r.origin.index).collect();
        assert_eq!(indexes, (0..want.counts.0 as u64).collect::<Vec<_>>(), "{}", want.file);
        let (accepted, fields) = normalised(&read);
        assert_eq!(accepted, want.accepted, "{}", want.file);
        assert_eq!(fields, want.rejected_fields, "{}", want.file);
    }
}

#[test]
fn csv_corpus_fields_land_in_their_columns() {
    // `;`-delimited, all quoted.
    let read = drop_file("tests/fixtures/corpus/transactions-csv/csv2ofx-sparkasse.csv");
    assert_eq!(read.records[0].fields.len(), 11);
    assert_eq!(read.field(0, "Betrag"), Some("-24,14"));
    assert_eq!(
        read.field(0, "Beguenstigter/Zahlungspflichtiger"),
        Some("PayPal (Europe) S.a.r.l. et Cie., S.C.A.")
    );
    // `;`-delimited, unquoted, apostrophe thousands; `Description` is an alias.
    let read = drop_file("tests/fixtures/corpus/transactions-csv/csv2ofx-ubs-ch-fr_trimmed.csv");
    assert!(read.records.iter().all(|r| r.fields.len() == 11));
    assert_eq!(read.field(1, "Solde"), Some("11'613.94"));
    assert_eq!(read.field(1, "Description 3"), Some("BVD DE QUELQUE-PART 1, 1201 GENEVE, CH"));
    assert_eq!(read.field(0, "description"), Some("Compte personnel UBS"));
    // A quoted date with a comma, and umlauts in the header.
    let read = drop_file("tests/fixtures/corpus/transactions-csv/csv2ofx-sumup.csv");
    assert_eq!(read.field(0, "Datum der Transaktion"), Some("29.12.24, 13:56"));
    assert_eq!(read.field(0, "Gebühr"), Some("0.00"));
    // CR-only line ends.
    let read = drop_file("tests/fixtures/corpus/transactions-csv/csv2ofx-creditunion.csv");
    assert_eq!(read.field(5, "description"), Some("Ȣelma Quorvanti"));
    assert_eq!(read.field(7, "amount"), Some("50000"));
    // Ragged rows: 13 fields under a 14-column header.
    let read = drop_file("tests/fixtures/corpus/transactions-csv/csv2ofx-c24.csv");
    assert!(read.records.iter().all(|r| r.fields.len() == 13));
    assert_eq!(read.field(0, "Betrag"), Some("-123,45 €"));
    // The OFAC excerpt keeps its long quoted remarks whole; the Ctrl-Z is no row.
    let read = drop_file("tests/fixtures/corpus/sanctions/ofac-sdn-excerpt.csv");
    assert!(read.records.iter().all(|r| r.fields.len() == 12));
    assert_eq!(read.records[128].fields[0].1, "15440");
    assert_eq!(read.records[128].fields[2].1, "aircraft");
}

#[test]
fn csv_corpus_lines_with_lf_line_ends() {
    let read = drop_file("tests/fixtures/corpus/transactions-csv/amlsim-tx.csv");
    assert_eq!(lines(&read), (2..=46).map(Some).collect::<Vec<_>>());
    // The preamble's header is line 12, after 11 blank lines.
    let read = drop_file("tests/fixtures/corpus/transactions-csv/csv2ofx-dbs.csv");
    assert_eq!(read.records[0].origin.line, Some(13));
    assert_eq!(read.records[12].origin.line, Some(29));
}

#[test]
fn csv_lines_count_every_line_end() {
    // Every row's line as a person counts it in an editor.
    let read = drop_file("tests/fixtures/corpus/transactions-csv/csv2ofx-ingesp.csv");
    assert_eq!(lines(&read), (2..=11).map(Some).collect::<Vec<_>>(), "CRLF");
    let read = drop_file("tests/fixtures/corpus/transactions-csv/csv2ofx-creditunion.csv");
    assert_eq!(lines(&read), (2..=9).map(Some).collect::<Vec<_>>(), "CR only");
    let read = drop_file("tests/fixtures/corpus/sanctions/ofac-sdn-excerpt.csv");
    assert_eq!(lines(&read), (2..=130).map(Some).collect::<Vec<_>>(), "CRLF and a Ctrl-Z");
    let read = drop_file("tests/fixtures/corpus/transactions-csv/csv2ofx-dbs.csv");
    let want = [13, 15, 16, 18, 21, 22, 23, 24, 25, 26, 27, 28, 29];
    assert_eq!(lines(&read), want.map(Some).to_vec(), "blank lines between rows");
}

#[test]
fn legacy_encoding_from_config() {
    let path = repo("tests/fixtures/corpus/transactions-csv/csv2ofx-gls.csv");
    let bytes = std::fs::read(path).expect("fixture");
    let read = drop_of("gls.csv", &bytes);
    assert!(read.error().message.contains("encoding"), "{:?}", read.errors);
    assert_eq!(read.error().line, Some(1));
    let latin = config("[csv]\nencoding = \"windows-1252\"\n");
    let read = drop_with("gls.csv", &bytes, &latin);
    assert_eq!(read.counts(), (1, 0, 0), "{:?}", read.errors);
    assert_eq!(read.records[0].fields.len(), 22);
    assert_eq!(read.field(0, "Auftraggeber/Empfänger"), Some("Drillisch Online AG"));
    assert_eq!(read.field(0, "Betrag"), Some("-98,76"));
    assert_eq!(read.field(0, "Währung"), Some("EUR"));
}

// ---------------------------------------------------------------- sample drops

/// Per file, from `python3 tests/oracle/expected_samples.py`.
struct Expected {
    file: &'static str,
    read: usize,
    rejected: usize,
    severities: [usize; 4],
    rules: &'static [(&'static str, usize)],
}

const DROPS: &[Expected] = &[
    Expected {
        file: "bad-alerts.json",
        read: 3,
        rejected: 2,
        severities: [0, 1, 0, 0],
        rules: &[("risk-high", 1)],
    },
    Expected {
        file: "bad-rows.csv",
        read: 7,
        rejected: 5,
        severities: [0, 1, 1, 0],
        rules: &[("high-risk-country", 1), ("risk-medium", 1)],
    },
    Expected {
        file: "gmail-alert.json",
        read: 1,
        rejected: 0,
        severities: [1, 0, 0, 0],
        rules: &[("sanction-keyword", 1)],
    },
    Expected {
        file: "transactions.csv",
        read: 50,
        rejected: 0,
        severities: [4, 18, 12, 16],
        rules: &[
            ("default-low", 15),
            ("high-risk-country", 9),
            ("risk-critical", 3),
            ("risk-high", 8),
            ("risk-medium", 11),
            ("sanction-keyword", 1),
            ("severity-hint", 3),
        ],
    },
    Expected {
        file: "vendor-alerts.json",
        read: 30,
        rejected: 0,
        severities: [5, 11, 7, 7],
        rules: &[
            ("default-low", 5),
            ("high-risk-country", 3),
            ("risk-critical", 1),
            ("risk-high", 5),
            ("risk-medium", 5),
            ("sanction-keyword", 3),
            ("severity-hint", 8),
        ],
    },
];

#[test]
fn sample_drops_match_the_oracle() {
    let engine = Engine::new(Config::default());
    let now = Utc.with_ymd_and_hms(2024, 12, 12, 10, 0, 0).single().expect("valid time");
    let mut total = 0;
    for want in DROPS {
        let read = drop_file(&format!("events/drops/{}", want.file));
        assert!(read.errors.is_empty(), "{}: {:?}", want.file, read.errors);
        let mut rejected = read.rejected.len();
        let mut severities = [0; 4];
        let mut rules = BTreeMap::new();
        for record in &read.records {
            match engine.normalise(record.clone()) {
                Ok(alert) => {
                    let assessed = engine.assess(alert, now);
                    severities[assessed.severity as usize] += 1;
                    *rules.entry(assessed.rule).or_insert(0) += 1;
                }
                Err(_) => rejected += 1,
            }
        }
        assert_eq!(read.records.len() + read.rejected.len(), want.read, "{}", want.file);
        assert_eq!(rejected, want.rejected, "{}", want.file);
        assert_eq!(severities, want.severities, "{}", want.file);
        let rules: Vec<(&str, usize)> = rules.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(rules, want.rules, "{}", want.file);
        if !want.file.starts_with("bad-") {
            total += want.read;
        }
    }
    assert_eq!(total, 81);
    assert_eq!(Severity::Critical as usize, 0);
}

#[test]
fn sample_rejections_say_where_and_why() {
    let engine = Engine::new(Config::default());
    let read = drop_file("events/drops/bad-rows.csv");
    let mut found = Vec::new();
    for record in read.records {
        if let Err(r) = engine.normalise(record) {
            found.push((r.origin.line, r.field.unwrap_or_default()));
        }
    }
    let want = [
        (2, "risk_score"),
        (3, "risk_score"),
        (4, "risk_score"),
        (5, "risk_score"),
        (6, "created_at"),
    ];
    assert_eq!(found, want.map(|(l, f)| (Some(l), f.to_string())).to_vec());

    let read = drop_file("events/drops/bad-alerts.json");
    // The repeated key is refused by the parser, at the record's line.
    assert_eq!(read.rejected.len(), 1);
    let repeated = &read.rejected[0];
    assert_eq!((repeated.origin.line, repeated.origin.index), (Some(12), 1));
    assert!(repeated.reason.contains("\"risk_score\" appears twice"), "{}", repeated.reason);
    assert!(repeated.raw.contains("VA-2024-0902"));
    // `"risk_score": "high"` is refused by normalisation.
    let r = engine.normalise(read.records[0].clone()).expect_err("risk score `high`");
    assert_eq!(
        (r.origin.line, r.origin.index, r.field.as_deref()),
        (Some(2), 0, Some("risk_score"))
    );
    // The third alert is valid: `+05:00` converted, `de` upper-cased.
    let alert = engine.normalise(read.records[1].clone()).expect("valid");
    assert_eq!(alert.text("created_at"), Some("2024-12-11T06:12:00Z"));
    assert_eq!(alert.text("country"), Some("DE"));
    assert_eq!((alert.origin.line, alert.origin.index), (Some(22), 2));
}

// ---------------------------------------------------------------- hostile input

#[test]
fn empty_and_blank_files_are_file_errors() {
    for bytes in [&b""[..], b"   \n\t\r\n\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n"] {
        let read = drop_of("empty.json", bytes);
        assert_eq!(read.counts(), (0, 0, 1), "{bytes:?}");
        assert!(read.error().message.contains("empty"), "{:?}", read.errors);
    }
}

#[test]
fn header_only_csv_is_a_file_error_naming_it() {
    for bytes in [
        &b"txn_id,amount,risk_score\n"[..],
        b"txn_id,amount,risk_score",
        b"txn_id,amount\r\n\r\n\r\n",
        b"txn_id,amount\n,\n \n",
    ] {
        let read = drop_of("h.csv", bytes);
        assert_eq!(read.counts(), (0, 0, 1), "{bytes:?}");
        assert_eq!(read.error().message, "no records after the header", "{bytes:?}");
    }
}

#[test]
fn an_unclosed_quote_cannot_swallow_rows_silently() {
    let header = "txn_id,customer_id,amount,currency,country,txn_type,risk_score,created_at,severity_hint,description\n";
    // In the last column: the rows after it become part of one value.
    let bytes = format!(
        "{header}T1,C1,1,USD,US,wire,10,2024-01-01T00:00:00Z,,ok\n\
         T2,C2,2,USD,US,wire,10,2024-01-01T00:00:00Z,,\"Customer said 6 wire\n\
         T3,C3,3,USD,US,wire,95,2024-01-01T00:00:00Z,,x\n\
         T4,C4,4,USD,US,wire,10,2024-01-01T00:00:00Z,,y\n"
    );
    let read = drop_of("q.csv", bytes.as_bytes());
    assert_eq!(read.counts(), (1, 1, 0), "{:?}", read.rejected);
    assert!(
        read.rejected[0].reason.contains("is a quote left open"),
        "{}",
        read.rejected[0].reason
    );
    assert_eq!(read.rejected[0].origin.line, Some(3));
    // With no closing quote for megabytes, the drop stops early, bounded.
    let mut long = format!("{header}T1,C1,1,USD,US,wire,10,2024-01-01T00:00:00Z,,\"open\n");
    while long.len() < 3 << 20 {
        long.push_str("T9,C9,9,USD,US,wire,10,2024-01-01T00:00:00Z,,more\n");
    }
    let read = drop_of("long.csv", long.as_bytes());
    assert_eq!(read.counts(), (0, 0, 1));
    assert!(read.error().message.contains("starting on line 2 runs past"), "{:?}", read.errors);
}

#[test]
fn rows_cut_short_before_a_known_column_are_rejected() {
    let bytes =
        b"txn_id,customer_id,amount,currency,risk_score,Note\nT1,C1,5,USD,20\nT2,C2,100.00,USD\n";
    let read = drop_of("short.csv", bytes);
    assert_eq!(read.counts(), (1, 1, 0), "{:?}", read.rejected);
    assert!(
        read.rejected[0].reason.contains("`risk_score` and after are missing"),
        "{}",
        read.rejected[0].reason
    );
}

#[test]
fn non_utf8_header_is_a_file_error_unless_configured() {
    let bytes = b"txn_id;Empf\xe4nger;amount\nT-1;M\xfcller;1.234,56\nT-2;Wei\xdf;7,5\n";
    let read = drop_of("legacy.csv", bytes);
    assert_eq!(read.counts(), (0, 0, 1));
    assert!(read.error().message.contains("encoding"), "{}", read.error());
    assert!(read.error().message.contains("column 2"), "{}", read.error());
    let latin = config("[csv]\nencoding = \"windows-1252\"\n");
    let read = drop_with("legacy.csv", bytes, &latin);
    assert_eq!(read.counts(), (2, 0, 0), "{:?}", read.errors);
    assert_eq!(read.field(0, "Empfänger"), Some("Müller"));
    assert_eq!(read.field(1, "Empfänger"), Some("Weiß"));
    let alert = Engine::new(latin.clone()).normalise(read.records[0].clone()).expect("valid");
    assert_eq!(alert.text("amount"), Some("1234.56"));
}

#[test]
fn a_byte_order_mark_wins_over_the_configured_encoding() {
    let latin = config("[csv]\nencoding = \"windows-1252\"\n");
    let utf8 = "\u{feff}txn_id,name\nT-1,Müller\n".as_bytes();
    let read = drop_with("bom.csv", utf8, &latin);
    assert_eq!(read.counts(), (1, 0, 0));
    assert_eq!(read.field(0, "name"), Some("Müller"));
    let utf16: Vec<u8> =
        "\u{feff}txn_id;name\nT-1;Müller\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let read = drop_with("bom16.csv", &utf16, &latin);
    assert_eq!(read.counts(), (1, 0, 0));
    assert_eq!(read.field(0, "name"), Some("Müller"));
}

#[test]
fn non_utf8_byte_in_a_row_rejects_only_that_row() {
    let bytes = b"txn_id,name,amount\nT-1,ok,1\nT-2,M\xfcller,2\nT-3,fine,3\n";
    let read = drop_of("mixed.csv", bytes);
    assert_eq!(read.counts(), (2, 1, 0));
    let r = &read.rejected[0];
    assert_eq!((r.origin.line, r.origin.index, r.field.as_deref()), (Some(3), 1, Some("name")));
    assert!(r.reason.contains("UTF-8"), "{r}");
    assert!(r.raw.starts_with("T-2,M"), "{}", r.raw);
    assert_eq!(read.field(1, "txn_id"), Some("T-3"));
    assert_eq!(read.records[1].origin.index, 2);
}

#[test]
fn truncated_json_keeps_the_records_before_it() {
    let bytes = b"[\n  {\"message_id\": \"a\"},\n  {\"message_id\": \"b\"},\n  {\"message_id\": \"c\", \"subject\": \"cut of";
    let read = drop_of("cut.json", bytes);
    assert_eq!(read.counts(), (2, 0, 1));
    assert_eq!(read.error().line, Some(4));
    assert!(read.error().message.contains("ends inside a record"), "{}", read.error());
    // Cut between records, or before the closing bracket.
    let read = drop_of("cut.json", b"[{\"message_id\": \"a\"},\n");
    assert_eq!(read.counts(), (1, 0, 1));
    assert_eq!(read.error().line, Some(2));
    let read = drop_of("cut.json", b"[{\"message_id\": \"a\"}");
    assert_eq!(read.counts(), (1, 0, 1));
    assert!(read.error().message.contains("closing `]`"), "{}", read.error());
}

#[test]
fn garbage_after_the_closing_bracket() {
    let read = drop_of("tail.json", b"[{\"message_id\": \"a\"}]\n\ngarbage\n");
    assert_eq!(read.counts(), (1, 0, 1));
    assert_eq!(read.error().line, Some(3));
    assert!(read.error().message.contains("after the closing"), "{}", read.error());
    let read = drop_of("tail.json", b"[{\"message_id\": \"a\"}] [{\"message_id\": \"b\"}]");
    assert_eq!(read.counts(), (1, 0, 1));
}

#[test]
fn malformed_arrays_stop_with_a_file_error() {
    let read = drop_of("a.json", b"[{\"message_id\": \"a\"} {\"message_id\": \"b\"}]");
    assert_eq!(read.counts(), (1, 0, 1));
    assert!(read.error().message.contains("expected `,`"), "{}", read.error());
    let read = drop_of("a.json", b"[,{\"message_id\": \"a\"}]");
    assert_eq!(read.counts(), (0, 0, 1));
    // A trailing comma is tolerated: nothing is lost by it.
    let read = drop_of("a.json", b"[{\"message_id\": \"a\"},]");
    assert_eq!(read.counts(), (1, 0, 0));
    // Scalars and arrays in an array are rejected one by one.
    let read = drop_of("a.json", b"[1, \"two\", [3], null, {\"message_id\": \"a\"}]");
    assert_eq!(read.counts(), (1, 4, 0));
    assert!(
        read.rejected.iter().all(|r| r.reason.contains("not a JSON object")),
        "{:?}",
        read.rejected
    );
    assert_eq!(read.records[0].origin.index, 4);
}

#[test]
fn stray_brace_in_ndjson_is_one_rejection() {
    let bytes = b"{\"message_id\": \"a\"}\n}\n{\"message_id\": \"b\"}\n";
    let read = drop_of("stray.ndjson", bytes);
    assert_eq!(read.counts(), (2, 1, 0));
    assert_eq!(read.rejected[0].origin.line, Some(2));
    assert_eq!(read.rejected[0].raw, "}");
    assert_eq!(read.records[1].origin.line, Some(3));
    // An invalid line in the middle does not stop the rest either.
    let bytes = b"{\"message_id\": \"a\"}\n{\"message_id\": nope}\n{\"message_id\": \"c\"}\n";
    let read = drop_of("bad-line.ndjson", bytes);
    assert_eq!(read.counts(), (2, 1, 0));
    assert_eq!(read.rejected[0].origin.line, Some(2));
}

#[test]
fn ndjson_with_blank_lines_and_crlf() {
    let bytes = b"{\"message_id\": \"a\"}\r\n\r\n{\"message_id\": \"b\", \"body\": \"x\\r\\ny\"}\r\n\r\n\r\n{\"message_id\": \"c\"}";
    let read = drop_of("crlf.ndjson", bytes);
    assert_eq!(read.counts(), (3, 0, 0));
    assert_eq!(lines(&read), [Some(1), Some(3), Some(6)]);
    assert_eq!(read.field(1, "body"), Some("x\r\ny"));
    let indexes: Vec<u64> = read.records.iter().map(|r| r.origin.index).collect();
    assert_eq!(indexes, [0, 1, 2]);
}

#[test]
fn concatenated_objects_and_a_single_object() {
    let read = drop_of("cat.json", b"{\"message_id\":\"a\"}{\"message_id\":\"b\"}");
    assert_eq!(read.counts(), (2, 0, 0));
    let read = drop_of("one.json", b"\n\n  {\n\"message_id\": \"a\"\n}\n");
    assert_eq!(read.counts(), (1, 0, 0));
    assert_eq!(read.records[0].origin.line, Some(3));
}

#[test]
fn utf16le_json_with_bom() {
    let text = "\u{feff}[{\"message_id\": \"m-1\", \"subject\": \"Überweisung\"},\n{\"message_id\": \"m-2\"}]";
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let read = drop_of("utf16.json", &bytes);
    assert_eq!(read.counts(), (2, 0, 0));
    assert_eq!(read.field(0, "subject"), Some("Überweisung"));
    assert_eq!(read.records[1].origin.line, Some(2));
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert_eq!(drop_with("utf16be.json", &be, &Config::default()).counts(), (2, 0, 0));
}

#[test]
fn cr_only_csv() {
    let read = drop_of("mac.csv", b"txn_id,amount,description\rT-1,5,\"two\rlines\"\rT-2,6,x");
    assert_eq!(read.counts(), (2, 0, 0));
    assert_eq!(read.field(0, "description"), Some("two\rlines"));
    assert_eq!(read.field(1, "amount"), Some("6"));
}

#[test]
fn semicolon_csv_with_decimal_commas() {
    let bytes = "txn_id;amount;currency;risk_score;description\n\
                 T-1;1.234,56;EUR;75;\"Miete; Januar\"\n\
                 T-2;-98,76;EUR;;Gutschrift\n"
        .as_bytes();
    let read = drop_of("semi.csv", bytes);
    assert_eq!(read.counts(), (2, 0, 0));
    assert_eq!(read.field(0, "description"), Some("Miete; Januar"));
    let engine = Engine::new(Config::default());
    let first = engine.normalise(read.records[0].clone()).expect("valid");
    assert_eq!(first.text("amount"), Some("1234.56"));
    assert_eq!(first.risk_score, 75.0);
    let second = engine.normalise(read.records[1].clone()).expect("valid");
    assert_eq!(second.text("amount"), Some("-98.76"));
    // The same with the delimiter configured rather than sniffed.
    let semi = config("[csv]\ndelimiter = \";\"\n");
    assert_eq!(drop_with("semi.csv", bytes, &semi).counts(), (2, 0, 0));
}

#[test]
fn csv_quoting_bom_crlf_and_trailing_blank_lines() {
    let bytes = b"\xef\xbb\xbftxn_id,description,amount\r\nT-1,\"a, b\r\nand \"\"c\"\"\",5\r\n\r\n,,\r\n\r\n";
    let read = drop_of("quoted.csv", bytes);
    assert_eq!(read.counts(), (1, 0, 0));
    assert_eq!(read.field(0, "txn_id"), Some("T-1"));
    assert_eq!(read.field(0, "description"), Some("a, b\r\nand \"c\""));
}

#[test]
fn oversized_json_record_is_rejected_and_reading_goes_on() {
    let big = format!("{{\"message_id\": \"big\", \"body\": \"{}\"}}", "x".repeat(2 << 20));
    let array = format!("[{{\"message_id\": \"a\"}},\n{big},\n{{\"message_id\": \"b\"}}]");
    let read = drop_of("big.json", array.as_bytes());
    assert_eq!(read.counts(), (2, 1, 0));
    let r = &read.rejected[0];
    assert!(r.reason.contains("exceeds the limit"), "{}", r.reason);
    assert_eq!((r.origin.line, r.origin.index), (Some(2), 1));
    assert!(r.raw.len() <= 4096);
    assert_eq!(read.field(1, "message_id"), Some("b"));
    assert_eq!(read.records[1].origin.line, Some(3));
    let ndjson = format!("{big}\n{{\"message_id\": \"b\"}}\n");
    let read = drop_of("big.ndjson", ndjson.as_bytes());
    assert_eq!(read.counts(), (1, 1, 0));
    assert_eq!(read.records[0].origin.line, Some(2));
}

#[test]
fn oversized_csv_row_is_rejected_and_reading_goes_on() {
    let csv = format!("txn_id,description\nT-1,{}\nT-2,ok\n", "y".repeat(2 << 20));
    let read = drop_of("big.csv", csv.as_bytes());
    assert_eq!(read.counts(), (1, 1, 0));
    assert!(read.rejected[0].reason.contains("exceeds the limit"));
    assert_eq!(read.field(0, "txn_id"), Some("T-2"));
}

#[test]
fn deeply_nested_json_neither_overflows_nor_hangs() {
    let open = "[".repeat(10_000);
    let read = drop_of("deep.json", open.as_bytes());
    assert_eq!(read.counts(), (0, 0, 1));
    let closed = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let read = drop_of("deep.json", closed.as_bytes());
    assert_eq!(read.counts(), (0, 1, 0));
    let record = format!(
        "{{\"message_id\": \"a\", \"x\": {}{}}}\n{{\"message_id\": \"b\"}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let read = drop_of("deep.ndjson", record.as_bytes());
    assert_eq!(read.counts(), (1, 1, 0));
    assert_eq!(read.field(0, "message_id"), Some("b"));
    let objects = format!("[{}{}]", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let read = drop_of("deep.json", objects.as_bytes());
    assert_eq!(read.counts(), (0, 1, 0));
}

#[test]
fn trailing_ctrl_z_is_padding() {
    let read = drop_of("sub.csv", b"txn_id,amount\r\nT-1,5\r\n\x1a");
    assert_eq!(read.counts(), (1, 0, 0));
    let read = drop_of("sub.json", b"[{\"message_id\": \"a\"}]\r\n\x1a");
    assert_eq!(read.counts(), (1, 0, 0), "{:?}", read.errors);
    let read = drop_of("sub.ndjson", b"{\"message_id\": \"a\"}\n{\"message_id\": \"b\"}\n\x1a");
    assert_eq!(read.counts(), (2, 0, 0), "{:?}", read.rejected);
}

#[test]
fn csv_without_a_usable_header() {
    // An unterminated quote swallows the file: it cannot be read to the end.
    let read = drop_of("q.csv", b"txn_id,amount\nT-1,\"5\nT-2,6\n");
    assert_eq!(read.records.len() + read.rejected.len() + read.errors.len(), 1, "{read:?}");
    // Empty header names get positional ones.
    let read = drop_of("blank-names.csv", b"txn_id,,amount\nT-1,x,5\n");
    assert_eq!(read.field(0, "column_2"), Some("x"));
    // More fields than header names: the extra ones are positional too.
    let read = drop_of("ragged.csv", b"txn_id,amount\nT-1,5,extra\n");
    assert_eq!(read.field(0, "column_3"), Some("extra"));
}

#[test]
fn configured_header_line_skips_a_preamble() {
    let dbs = std::fs::read(repo("tests/fixtures/corpus/transactions-csv/csv2ofx-dbs.csv"))
        .expect("fixture");
    // The real header is on line 18 of the file, counting the 11 blank
    // lines it starts with.
    let preamble = config("[csv]\nheader_line = 18\n");
    let read = drop_with("dbs.csv", &dbs, &preamble);
    assert_eq!(read.counts(), (9, 0, 0), "{:?}", read.errors);
    assert_eq!(read.field(0, "Transaction Date"), Some("06 May 2020"));
    assert_eq!(read.field(0, "Debit Amount"), Some(" 34.65"));
    assert_eq!(read.field(3, "column_8"), Some(""));
    assert_eq!(lines(&read), (21..=29).map(Some).collect::<Vec<_>>());
}

// ---------------------------------------------------------------- Gmail shapes

fn gmail(id: Option<&str>, headers: &[(&str, &str)], payload_extra: &str, extra: &str) -> String {
    let headers: Vec<String> =
        headers.iter().map(|(n, v)| format!("{{\"name\": \"{n}\", \"value\": \"{v}\"}}")).collect();
    let id = id.map(|id| format!("\"id\": \"{id}\", ")).unwrap_or_default();
    format!(
        "{{{id}\"snippet\": \"From the snippet\", \"internalDate\": \"1733927529318\"{extra}, \
         \"payload\": {{\"mimeType\": \"text/plain\", \"headers\": [{}]{payload_extra}}}}}",
        headers.join(", ")
    )
}

#[test]
fn gmail_metadata_format_takes_the_snippet_and_internal_date() {
    let message = gmail(Some("m-1"), &[("Subject", "Hi"), ("FROM", "a@example.com")], "", "");
    let read = drop_of("meta.json", message.as_bytes());
    assert_eq!(read.counts(), (1, 0, 0));
    let alert = Engine::new(Config::default()).normalise(read.records[0].clone()).expect("valid");
    assert_eq!(alert.text("body"), Some("From the snippet"));
    assert_eq!(alert.text("vendor"), Some("a@example.com"));
    assert_eq!(alert.text("created_at"), Some("2024-12-11T14:32:09Z"));
}

#[test]
fn gmail_date_header_wins_over_internal_date() {
    let message = gmail(Some("m-1"), &[("date", "Wed, 11 Dec 2024 09:15:00 -0500")], "", "");
    let read = drop_of("dated.json", message.as_bytes());
    let alert = Engine::new(Config::default()).normalise(read.records[0].clone()).expect("valid");
    assert_eq!(alert.text("created_at"), Some("2024-12-11T14:15:00Z"));
}

#[test]
fn gmail_messages_that_cannot_be_unpacked_are_rejected() {
    let bad_body = gmail(Some("m-1"), &[], ", \"body\": {\"data\": \"***\"}", "");
    let no_id = gmail(None, &[("Subject", "Hi")], "", "");
    let ndjson = format!("{bad_body}\n{no_id}\n{}\n", gmail(Some("m-3"), &[], "", ""));
    let read = drop_of("gmail.ndjson", ndjson.as_bytes());
    assert_eq!(read.counts(), (1, 2, 0));
    assert!(read.rejected[0].reason.contains("base64url"), "{}", read.rejected[0]);
    assert!(read.rejected[1].reason.contains("`id`"), "{}", read.rejected[1]);
    assert_eq!(read.rejected[1].origin.line, Some(2));
    assert!(read.rejected.iter().all(|r| r.source == Source::Gmail));
}

#[test]
fn csv_without_header_row_from_config() {
    let headerless = config("[csv]\nhas_header = false\n\n[fields]\ncolumn_1 = \"txn_id\"\n");
    let read = drop_with(
        "sdn.csv",
        b"36,\"AEROCARIBBEAN\",-0- \r\n173,\"ANGLO\",-0- \r\n\x1a",
        &headerless,
    );
    assert_eq!(read.counts(), (2, 0, 0));
    assert_eq!(lines(&read), [Some(1), Some(2)]);
    assert_eq!(read.field(0, "txn_id"), Some("36"));
    assert_eq!(read.field(1, "column_2"), Some("ANGLO"));
}
