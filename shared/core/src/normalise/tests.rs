//! Normalisation to the exact payload the fingerprint covers, the equalities
//! SPEC promises ("91" and 91, `+05:00` and `Z`, BOM or not), and every
//! reason a record is rejected instead.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::Engine;
use crate::audit::Outcome;
use crate::fingerprint::{self, canonical};
use crate::parse::{self, Item};

fn origin() -> Origin {
    Origin { object: "normalise-test".into(), line: Some(3), index: 2 }
}

/// A record with the producer's field names, in the order given.
fn raw(source: Source, fields: &[(&str, Value)]) -> RawRecord {
    RawRecord {
        source,
        origin: origin(),
        fields: fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        mapped: false,
        raw: "the record as read".into(),
    }
}

fn email(fields: &[(&str, Value)]) -> Result<Alert, Rejected> {
    normalise(raw(Source::Gmail, fields), &Config::default())
}

fn txn(fields: &[(&str, Value)]) -> Result<Alert, Rejected> {
    normalise(raw(Source::Csv, fields), &Config::default())
}

fn payload(alert: &Alert) -> String {
    canonical(&alert.payload)
}

fn print(alert: &Alert) -> String {
    fingerprint::fingerprint(alert.source, &payload(alert))
}

fn ok(result: Result<Alert, Rejected>) -> Alert {
    result.unwrap_or_else(|r| panic!("must be accepted: {r}"))
}

fn rejected(result: Result<Alert, Rejected>) -> Rejected {
    match result {
        Ok(alert) => panic!("must be rejected: {}", payload(&alert)),
        Err(r) => r,
    }
}

#[test]
fn email_alert_to_the_exact_payload() {
    let alert = ok(email(&[
        ("message_id", json!("  VA-2024-0001 ")),
        ("vendor", json!(" Northwind Screening ")),
        ("subject", json!("  Sanctions screening ")),
        ("body", json!("\n Beneficiary matched.\r\n")),
        ("severity_hint", json!(" High ")),
        ("risk_score", json!("91")),
        ("country", json!(" ng ")),
        ("created_at", json!("2024-12-12T17:00:00+05:00")),
        ("Ticket", json!("  T-9 ")),
        ("tags", json!(["a", "b"])),
    ]));
    assert_eq!(
        payload(&alert),
        r#"{"Ticket":"  T-9 ","body":"\n Beneficiary matched.\r\n","country":"NG","created_at":"2024-12-12T12:00:00Z","message_id":"VA-2024-0001","risk_score":91,"severity_hint":"high","subject":"  Sanctions screening ","tags":["a","b"],"vendor":"Northwind Screening"}"#
    );
    assert_eq!(alert.source, Source::Gmail);
    assert_eq!(alert.origin, origin());
    assert_eq!(alert.risk_score, 91.0);
    assert_eq!(alert.hint, Some(Severity::High));
    assert_eq!(alert.created_at, Utc.with_ymd_and_hms(2024, 12, 12, 12, 0, 0).single());
    assert_eq!(alert.text("subject"), Some("  Sanctions screening "));
}

#[test]
fn transaction_row_to_the_exact_payload() {
    let alert = ok(txn(&[
        ("txn_id", json!(" TXN-20241209-0001 ")),
        ("customer_id", json!("CUST-10482 ")),
        ("amount", json!(" 1.234,50 ")),
        ("currency", json!(" eur")),
        ("country", json!("de")),
        ("txn_type", json!(" Wire ")),
        ("risk_score", json!(" 12.5 ")),
        ("created_at", json!("2024-12-09 07:05:00")),
        ("severity_hint", json!("")),
        ("description", json!(" Online purchase ")),
    ]));
    assert_eq!(
        payload(&alert),
        r#"{"amount":"1234.5","country":"DE","created_at":"2024-12-09T07:05:00Z","currency":"EUR","customer_id":"CUST-10482","description":" Online purchase ","risk_score":12.5,"txn_id":"TXN-20241209-0001","txn_type":"Wire"}"#
    );
    assert_eq!(alert.hint, None);
}

#[test]
fn trimming_and_casing_per_field() {
    let alert = ok(txn(&[
        ("txn_id", json!("\tT-1\n")),
        ("severity_hint", json!("  Info ")),
        ("country", json!("   ")),
        ("currency", json!("")),
        ("amount", json!("  ")),
        ("created_at", json!(" ")),
        ("Memo Line", json!("  kept  ")),
    ]));
    // Ids trimmed; an unrecognised hint is kept lower-cased but is no hint;
    // empty codes, amounts and timestamps are absent; unknown fields untouched
    // under the producer's name (`Memo Line` is no alias).
    assert_eq!(
        payload(&alert),
        r#"{"Memo Line":"  kept  ","risk_score":0,"severity_hint":"info","txn_id":"T-1"}"#
    );
    assert_eq!(alert.hint, None);
    assert_eq!(alert.created_at, None);
}

#[test]
fn aliases_map_to_canonical_names() {
    let alert = ok(email(&[
        ("id", json!("m-1")),
        ("from", json!("Vendor")),
        ("received_at", json!("2024-12-12T12:00:00Z")),
        ("Country_Code", json!("ir")),
        ("score", json!(80)),
    ]));
    assert_eq!(
        payload(&alert),
        r#"{"country":"IR","created_at":"2024-12-12T12:00:00Z","message_id":"m-1","risk_score":80,"vendor":"Vendor"}"#
    );
    let alert = ok(txn(&[("transaction_id", json!("T-1")), ("timestamp", json!("1425560460000"))]));
    assert_eq!(
        payload(&alert),
        r#"{"created_at":"2015-03-05T13:01:00Z","risk_score":0,"txn_id":"T-1"}"#
    );
    let alert =
        ok(txn(&[("TXN_ID", json!("T-1")), ("date", json!("Thu, 5 Mar 2015 13:01:00 +0000"))]));
    assert_eq!(
        payload(&alert),
        r#"{"created_at":"2015-03-05T13:01:00Z","risk_score":0,"txn_id":"T-1"}"#
    );
}

#[test]
fn config_field_map_renames() {
    let config =
        Config::from_toml("[fields]\n\"Transaktions-ID\" = \"txn_id\"\nBetrag = \"amount\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
    let record =
        raw(Source::Csv, &[("Transaktions-ID", json!("C9VK")), ("betrag", json!("-24,14"))]);
    let alert = normalise(record, &config).unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(payload(&alert), r#"{"amount":"-24.14","risk_score":0,"txn_id":"C9VK"}"#);
}

#[test]
fn risk_score_as_number_or_text_is_one_fingerprint() {
    let a = ok(email(&[("message_id", json!("m")), ("risk_score", json!("91"))]));
    let b = ok(email(&[("message_id", json!("m")), ("risk_score", json!(91))]));
    let c = ok(email(&[("message_id", json!("m")), ("risk_score", json!(91.0))]));
    let d = ok(email(&[("message_id", json!("m")), ("risk_score", json!(" 91.00 "))]));
    assert_eq!(payload(&a), r#"{"message_id":"m","risk_score":91}"#);
    for other in [&b, &c, &d] {
        assert_eq!(print(&a), print(other));
    }
    // Missing, empty and zero are all 0.
    let missing = ok(email(&[("message_id", json!("m"))]));
    let empty = ok(email(&[("message_id", json!("m")), ("risk_score", json!(""))]));
    let zero = ok(email(&[("message_id", json!("m")), ("risk_score", json!("0.0"))]));
    assert_eq!(print(&missing), print(&empty));
    assert_eq!(print(&missing), print(&zero));
    assert_ne!(print(&a), print(&missing));
}

#[test]
fn offsets_and_zones_are_one_fingerprint() {
    let texts = [
        "2024-12-12T17:00:00+05:00",
        "2024-12-12T12:00:00Z",
        "2024-12-12T12:00:00",
        "2024-12-12 12:00:00",
        "2024-12-12T07:00:00-0500",
        "Thu, 12 Dec 2024 12:00:00 +0000",
        "1734004800000",
    ];
    let prints: Vec<_> = texts
        .iter()
        .map(|t| print(&ok(email(&[("message_id", json!("m")), ("created_at", json!(t))]))))
        .collect();
    for (text, p) in texts.iter().zip(&prints) {
        assert_eq!(p, &prints[0], "{text}");
    }
    let other =
        ok(email(&[("message_id", json!("m")), ("created_at", json!("2024-12-12T12:00:01Z"))]));
    assert_ne!(print(&other), prints[0]);
}

#[test]
fn amounts_in_bank_notations_are_one_fingerprint() {
    let row = |amount: Value| ok(txn(&[("txn_id", json!("T")), ("amount", amount)]));
    let base = row(json!("1234.56"));
    for amount in [
        json!("1.234,56"),
        json!("1,234.56"),
        json!(" 1234.560 "),
        json!(1234.56),
        json!("1'234.56"),
    ] {
        assert_eq!(print(&row(amount.clone())), print(&base), "{amount}");
    }
    assert_eq!(row(json!("980.00")).text("amount"), Some("980"));
    assert_eq!(row(json!(980.0)).text("amount"), Some("980"));
    assert_eq!(row(json!("-0,50")).text("amount"), Some("-0.5"));
    assert_ne!(print(&row(json!("980.01"))), print(&row(json!("980"))));
    assert_eq!(row(json!("USD 12.00")).text("amount"), Some("12"));
    assert_eq!(row(json!("12.00EUR")).text("amount"), Some("12"));
    assert_eq!(row(json!("-123,45 €")).text("amount"), Some("-123.45"));
    // Letters that are no currency code, thousands groups that are no groups
    // and exponents beyond reach are refused, not guessed.
    for amount in [
        "12 apples",
        "2.5M",
        "5 million",
        "1e",
        "1.2.3",
        "12,34,5",
        "1e99999999999999999999",
        "1e401",
    ] {
        let bad = rejected(txn(&[("txn_id", json!("T")), ("amount", json!(amount))]));
        assert_eq!(bad.field.as_deref(), Some("amount"), "{amount}");
    }
    assert_eq!(row(json!("1,23,456.50")).text("amount"), Some("123456.5"));
    assert_eq!(row(json!("1e400")).text("amount").map(str::len), Some(401));
}

#[test]
fn text_split_differently_across_fields_differs() {
    let a =
        ok(email(&[("message_id", json!("m")), ("subject", json!("ab")), ("body", json!("c"))]));
    let b =
        ok(email(&[("message_id", json!("m")), ("subject", json!("a")), ("body", json!("bc"))]));
    assert_ne!(print(&a), print(&b));
    let c = ok(email(&[("message_id", json!("m")), ("subject", json!("abc"))]));
    let d = ok(email(&[("message_id", json!("m")), ("body", json!("abc"))]));
    assert_ne!(print(&c), print(&d));
    // The same payload from the other source is another alert.
    let e = ok(txn(&[("txn_id", json!("m"))]));
    let f = ok(email(&[("message_id", json!("m"))]));
    assert_ne!(
        fingerprint::fingerprint(Source::Csv, &payload(&e)),
        fingerprint::fingerprint(Source::Gmail, &payload(&f))
    );
    // Text kept exactly: a trailing blank in the body is another alert.
    let g = ok(email(&[("message_id", json!("m")), ("body", json!("c "))]));
    let h = ok(email(&[("message_id", json!("m")), ("body", json!("c"))]));
    assert_ne!(print(&g), print(&h));
}

/// The fingerprints of the records of a drop.
fn drop_prints(name: &str, bytes: &[u8]) -> Vec<String> {
    let config = Config::default();
    let records = parse::records(name, bytes, &config).unwrap_or_else(|e| panic!("{e}"));
    records
        .map(|item| match item {
            Ok(Item::Record(raw)) => print(&ok(normalise(raw, &config))),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn byte_order_mark_does_not_change_the_fingerprint() {
    let json = r#"[{"message_id":"m-1","subject":"Wire","risk_score":"91"}]"#;
    let with_bom = [b"\xef\xbb\xbf".as_slice(), json.as_bytes()].concat();
    let plain = drop_prints("a.json", json.as_bytes());
    assert_eq!(plain.len(), 1);
    assert_eq!(drop_prints("a.json", &with_bom), plain);
    let csv = "txn_id,amount,risk_score\nT-1,12.50,91\n";
    let with_bom = [b"\xef\xbb\xbf".as_slice(), csv.as_bytes()].concat();
    let plain = drop_prints("a.csv", csv.as_bytes());
    assert_eq!(plain.len(), 1);
    assert_eq!(drop_prints("a.csv", &with_bom), plain);
    // UTF-16 with its BOM reads as the same alert too.
    let utf16: Vec<u8> = "\u{feff}txn_id,amount,risk_score\nT-1,12.50,91\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(drop_prints("a.csv", &utf16), plain);
}

#[test]
fn key_order_and_spacing_of_the_drop_do_not_matter() {
    let a = drop_prints("a.json", br#"{"message_id":"m-1","amount":"5.00","risk_score":5}"#);
    let b = drop_prints(
        "b.json",
        b"[\n  { \"risk_score\" : \"5\",\r\n    \"amount\": 5, \"message_id\": \" m-1\" }\n]\n",
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a, b);
}

#[test]
fn two_names_for_one_field_are_rejected() {
    let r = rejected(email(&[("id", json!("a")), ("message_id", json!("a"))]));
    assert_eq!(r.field.as_deref(), Some("message_id"));
    assert!(r.reason.contains("\"id\"") && r.reason.contains("\"message_id\""), "{r}");
    assert_eq!(r.origin, origin());
    assert_eq!(r.raw, "the record as read");
    let r = rejected(txn(&[("txn_id", json!("T")), ("score", json!(1)), ("Risk_Score", json!(1))]));
    assert_eq!(r.field.as_deref(), Some("risk_score"));
}

#[test]
fn repeated_key_is_rejected() {
    let r = rejected(email(&[
        ("message_id", json!("a")),
        ("subject", json!("x")),
        ("subject", json!("y")),
    ]));
    assert_eq!(r.field.as_deref(), Some("subject"));
    assert!(r.reason.contains("twice"), "{r}");
    // Through the parser, the repeated key never reaches normalisation.
    let config = Config::default();
    let drop = br#"[{"message_id":"a","risk_score":20,"risk_score":95}]"#;
    let items: Vec<_> =
        parse::records("d.json", drop.as_slice(), &config).expect("opens").collect();
    assert!(
        matches!(items.as_slice(), [Ok(Item::Rejected(r))] if r.reason.contains("twice")),
        "{items:?}"
    );
}

#[test]
fn bad_risk_scores_are_rejected_naming_the_field() {
    for bad in [
        json!("abc"),
        json!(150),
        json!(-1),
        json!("NaN"),
        json!(true),
        json!("inf"),
        json!("100.01"),
        json!([5]),
    ] {
        let r = rejected(email(&[("message_id", json!("m")), ("risk_score", bad.clone())]));
        assert_eq!(r.field.as_deref(), Some("risk_score"), "{bad}");
        let r = rejected(txn(&[("txn_id", json!("T")), ("risk", bad.clone())]));
        assert_eq!(r.field.as_deref(), Some("risk_score"), "{bad}");
    }
    for good in [json!(0), json!("100"), json!(100.0), json!("1e1")] {
        ok(email(&[("message_id", json!("m")), ("risk_score", good)]));
    }
}

#[test]
fn unparseable_created_at_is_rejected() {
    for bad in ["yesterday", "2/8/15", "24/03/2022", "2024-13-01T00:00:00Z", "20170218"] {
        let r = rejected(txn(&[("txn_id", json!("T")), ("created_at", json!(bad))]));
        assert_eq!(r.field.as_deref(), Some("created_at"), "{bad}");
    }
    let r = rejected(email(&[("message_id", json!("m")), ("created_at", json!(true))]));
    assert_eq!(r.field.as_deref(), Some("created_at"));
}

#[test]
fn missing_created_at_is_accepted_and_flagged() {
    let alert = ok(email(&[("message_id", json!("m"))]));
    assert_eq!(alert.created_at, None);
    assert!(!alert.payload.contains_key("created_at"));
    let alert = ok(email(&[("message_id", json!("m")), ("created_at", json!(null))]));
    assert_eq!(alert.created_at, None);
    // The audit record uses triage time and says so.
    let engine = Engine::new(Config::default());
    let now = Utc.with_ymd_and_hms(2024, 12, 12, 12, 0, 0).single().expect("valid");
    let assessed = engine.assess(alert, now);
    let record = engine.audit(&assessed, Outcome::Routed, "run-1", now);
    assert!(record.created_at_missing);
    assert_eq!(record.created_at_utc, now);
    assert_eq!(record.sla_seconds, 0);
}

#[test]
fn missing_required_id_is_rejected() {
    for fields in [
        vec![("customer_id", json!("C"))],
        vec![("txn_id", json!("  "))],
        vec![("txn_id", json!(null))],
    ] {
        let r = rejected(txn(&fields));
        assert_eq!(r.field.as_deref(), Some("txn_id"), "{fields:?}");
    }
    let r = rejected(email(&[("subject", json!("no id"))]));
    assert_eq!(r.field.as_deref(), Some("message_id"));
    // A number is an id too.
    assert_eq!(ok(txn(&[("txn_id", json!(42))])).text("txn_id"), Some("42"));
}

#[test]
fn structured_values_in_known_fields_are_rejected() {
    let r = rejected(email(&[("message_id", json!("m")), ("subject", json!({"text": "x"}))]));
    assert_eq!(r.field.as_deref(), Some("subject"));
    let r = rejected(email(&[("message_id", json!(["m"]))]));
    assert_eq!(r.field.as_deref(), Some("message_id"));
}

#[test]
fn limits_on_field_size_and_count() {
    let config = Config::from_toml("[limits]\nmax_field_bytes = 16\nmax_fields = 3\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let at_limit =
        raw(Source::Gmail, &[("message_id", json!("m")), ("body", json!("x".repeat(16)))]);
    normalise(at_limit, &config).unwrap_or_else(|r| panic!("{r}"));
    let over = raw(Source::Gmail, &[("message_id", json!("m")), ("body", json!("é".repeat(9)))]);
    let r = normalise(over, &config).expect_err("18 bytes is over 16");
    assert_eq!(r.field.as_deref(), Some("body"));
    let unknown =
        raw(Source::Gmail, &[("message_id", json!("m")), ("Notes", json!("n".repeat(17)))]);
    let r = normalise(unknown, &config).expect_err("unknown fields have the limit too");
    assert_eq!(r.field.as_deref(), Some("Notes"));
    let many = raw(
        Source::Gmail,
        &[("message_id", json!("m")), ("a", json!(1)), ("b", json!(2)), ("c", json!(3))],
    );
    let r = normalise(many, &config).expect_err("4 fields is over 3");
    assert_eq!(r.field, None);
    assert!(r.reason.contains("4 fields"), "{r}");
}

#[test]
fn fingerprint_fields_narrow_the_fingerprint_per_source() {
    let config = Config::from_toml("[dedup.fingerprint_fields]\ncsv = [\"txn_id\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::new(config);
    let now = Utc.with_ymd_and_hms(2024, 12, 12, 12, 0, 0).single().expect("valid");
    let assess = |source: Source, fields: &[(&str, Value)]| {
        let alert = engine.normalise(raw(source, fields)).unwrap_or_else(|r| panic!("{r}"));
        engine.assess(alert, now)
    };
    let first = assess(Source::Csv, &[("txn_id", json!("T-1")), ("amount", json!("10"))]);
    let corrected = assess(Source::Csv, &[("txn_id", json!("T-1")), ("amount", json!("12"))]);
    assert_eq!(first.fingerprint, corrected.fingerprint);
    // The audit keeps the whole payload.
    assert_eq!(corrected.payload, r#"{"amount":"12","risk_score":0,"txn_id":"T-1"}"#);
    let other = assess(Source::Csv, &[("txn_id", json!("T-2")), ("amount", json!("10"))]);
    assert_ne!(first.fingerprint, other.fingerprint);
    // E-mail alerts still use the whole payload.
    let a = assess(Source::Gmail, &[("message_id", json!("m")), ("subject", json!("a"))]);
    let b = assess(Source::Gmail, &[("message_id", json!("m")), ("subject", json!("b"))]);
    assert_ne!(a.fingerprint, b.fingerprint);
}

#[test]
fn fingerprint_is_sha256_of_the_wrapped_canonical_form() {
    let alert = ok(txn(&[("txn_id", json!("T-1")), ("risk_score", json!("87"))]));
    let mut wrapper = Map::new();
    wrapper.insert("alert".into(), Value::Object(alert.payload.clone()));
    wrapper.insert("source".into(), json!("csv"));
    let whole = canonical(&wrapper);
    assert_eq!(whole, r#"{"alert":{"risk_score":87,"txn_id":"T-1"},"source":"csv"}"#);
    assert_eq!(print(&alert), fingerprint::of_bytes(whole.as_bytes()));
    assert_eq!(print(&alert).len(), 64);
    assert!(print(&alert).bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}
