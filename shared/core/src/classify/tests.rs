//! SPEC's classification rules with the default config, at and around every
//! threshold; custom rules, the escalation and the old system's CSV hint from
//! a TOML config; and the config errors a compliance team would make.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::Engine;
use crate::config::{Config, ConfigIssue};
use crate::engine::CSV_HINT_RULE;
use crate::model::{Origin, Source};
use crate::normalise::{RawRecord, normalise};

/// A Wednesday, 10:00 UTC: inside business hours in London all year.
fn weekday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 12, 11, 10, 0, 0).single().expect("valid time")
}

fn raw(source: Source, fields: Value) -> RawRecord {
    let Value::Object(map) = fields else { panic!("fields must be an object") };
    RawRecord {
        source,
        origin: Origin { object: "classify-test".into(), line: Some(1), index: 0 },
        fields: map.into_iter().collect(),
        mapped: false,
        raw: String::new(),
    }
}

/// An e-mail alert, through the real normalisation.
fn email(fields: Value, config: &Config) -> Alert {
    let mut fields = fields;
    fields["message_id"] = json!("VA-TEST-1");
    normalise(raw(Source::Gmail, fields), config).expect("a valid e-mail alert")
}

/// A transaction row, through the real normalisation.
fn txn(fields: Value, config: &Config) -> Alert {
    let mut fields = fields;
    fields["txn_id"] = json!("TXN-TEST-1");
    normalise(raw(Source::Csv, fields), config).expect("a valid transaction")
}

fn decide(config: &Config, alert: &Alert, now: DateTime<Utc>) -> (Severity, String) {
    let decision = config.rules.classify(alert, alert.hint, now);
    (decision.severity, decision.rule.to_string())
}

/// Severity and rule of an e-mail alert under the default config.
fn default_email(fields: Value) -> (Severity, String) {
    let config = Config::default();
    decide(&config, &email(fields, &config), weekday_morning())
}

/// Severity and rule of a transaction under the default config.
fn default_txn(fields: Value) -> (Severity, String) {
    let config = Config::default();
    decide(&config, &txn(fields, &config), weekday_morning())
}

fn expect(severity: Severity, rule: &str) -> (Severity, String) {
    (severity, rule.to_string())
}

#[test]
fn risk_thresholds_at_and_around_each_bound() {
    let cases = [
        (json!(0), Severity::Low, "default-low"),
        (json!(39.99), Severity::Low, "default-low"),
        (json!(40), Severity::Medium, "risk-medium"),
        (json!(74.99), Severity::Medium, "risk-medium"),
        (json!(75), Severity::High, "risk-high"),
        (json!(89.99), Severity::High, "risk-high"),
        (json!(90), Severity::Critical, "risk-critical"),
        (json!(100), Severity::Critical, "risk-critical"),
        // Numeric strings are read the same way.
        (json!("39.99"), Severity::Low, "default-low"),
        (json!("40"), Severity::Medium, "risk-medium"),
        (json!(" 74.99 "), Severity::Medium, "risk-medium"),
        (json!("75"), Severity::High, "risk-high"),
        (json!("89.99"), Severity::High, "risk-high"),
        (json!("90.0"), Severity::Critical, "risk-critical"),
    ];
    for (score, severity, rule) in cases {
        let fields = json!({"subject": "Routine review", "risk_score": score, "country": "US"});
        assert_eq!(default_email(fields.clone()), expect(severity, rule), "e-mail, risk {score}");
        let fields = json!({"description": "Card payment", "risk_score": score, "country": "US"});
        assert_eq!(default_txn(fields), expect(severity, rule), "transaction, risk {score}");
    }
}

#[test]
fn missing_or_empty_risk_score_is_zero_and_low() {
    assert_eq!(default_email(json!({"subject": "Hello"})), expect(Severity::Low, "default-low"));
    assert_eq!(default_email(json!({"risk_score": ""})), expect(Severity::Low, "default-low"));
    assert_eq!(default_email(json!({"risk_score": null})), expect(Severity::Low, "default-low"));
    assert_eq!(default_txn(json!({"risk_score": "  "})), expect(Severity::Low, "default-low"));
    let config = Config::default();
    assert_eq!(email(json!({}), &config).risk_score, 0.0);
}

#[test]
fn hint_is_trimmed_and_case_insensitive() {
    let cases = [
        (" High ", Severity::High),
        ("CRITICAL", Severity::Critical),
        ("medium", Severity::Medium),
        ("Low", Severity::Low),
    ];
    for (hint, severity) in cases {
        let fields = json!({"severity_hint": hint, "risk_score": 50});
        assert_eq!(default_email(fields.clone()), expect(severity, "severity-hint"), "{hint:?}");
        assert_eq!(default_txn(fields), expect(severity, "severity-hint"), "{hint:?}");
    }
    let config = Config::default();
    let alert = email(json!({"severity_hint": " High "}), &config);
    let decision = config.rules.classify(&alert, alert.hint, weekday_morning());
    assert!(decision.by_hint);
}

#[test]
fn unknown_or_empty_hint_is_no_hint() {
    for hint in ["Info", "", "   ", "urgent", "highest"] {
        let fields = json!({"severity_hint": hint, "risk_score": 10});
        assert_eq!(default_email(fields), expect(Severity::Low, "default-low"), "{hint:?}");
    }
    let fields = json!({"severity_hint": "Info", "risk_score": 80});
    assert_eq!(default_email(fields), expect(Severity::High, "risk-high"));
}

#[test]
fn hint_beats_every_other_rule() {
    // A hint wins over the sanction keyword, a critical score and a risky country.
    let fields = json!({"severity_hint": "medium", "subject": "Sanctions hit", "risk_score": 95});
    assert_eq!(default_email(fields), expect(Severity::Medium, "severity-hint"));
    let fields = json!({"severity_hint": "low", "risk_score": 99, "country": "IR"});
    assert_eq!(default_txn(fields), expect(Severity::Low, "severity-hint"));
}

#[test]
fn sanction_keyword_in_subject_body_or_description() {
    let cases = [
        json!({"subject": "Sanctions screening: potential match", "risk_score": 10}),
        json!({"subject": "SANCTION list update", "risk_score": 10}),
        json!({"subject": "Screening result", "body": "The beneficiary is sanctioned.", "risk_score": 10}),
        json!({"subject": "Screening result", "body": "Possible OFAC sAnCtIoN match"}),
    ];
    for fields in cases {
        assert_eq!(
            default_email(fields.clone()),
            expect(Severity::Critical, "sanction-keyword"),
            "{fields}"
        );
    }
    let fields = json!({"description": "Beneficiary on a Sanctions list", "risk_score": 5});
    assert_eq!(default_txn(fields), expect(Severity::Critical, "sanction-keyword"));
    // It beats a high score and a risky country too (rule 2 before 3-5).
    let fields = json!({"body": "sanction", "risk_score": 80, "country": "RU"});
    assert_eq!(default_email(fields), expect(Severity::Critical, "sanction-keyword"));
}

#[test]
fn sanction_keyword_elsewhere_does_not_count() {
    // Only subject, body and description are searched.
    let fields = json!({"vendor": "Sanction Screening Ltd", "notes": "sanction", "risk_score": 10});
    assert_eq!(default_email(fields), expect(Severity::Low, "default-low"));
    let fields = json!({"txn_type": "sanction-check", "risk_score": 10});
    assert_eq!(default_txn(fields), expect(Severity::Low, "default-low"));
    let fields = json!({"subject": "Sanctity of contract", "body": "sanct ion"});
    assert_eq!(default_email(fields), expect(Severity::Low, "default-low"));
}

#[test]
fn high_risk_country_in_any_case_after_the_score_rules() {
    for country in ["IR", "RU", "NG", "PA", "KY", "AF", "SY", "ng", " pa ", "Ky"] {
        let fields = json!({"country": country, "risk_score": 10});
        assert_eq!(
            default_txn(fields.clone()),
            expect(Severity::High, "high-risk-country"),
            "{country:?}"
        );
        assert_eq!(
            default_email(fields),
            expect(Severity::High, "high-risk-country"),
            "{country:?}"
        );
    }
    for country in ["US", "GB", "DE", "", "NGA", "N G"] {
        let fields = json!({"country": country, "risk_score": 10});
        assert_eq!(default_txn(fields), expect(Severity::Low, "default-low"), "{country:?}");
    }
    // The country rule comes after the score rules and before the medium one.
    let cases = [
        (92.0, Severity::Critical, "risk-critical"),
        (90.0, Severity::Critical, "risk-critical"),
        (80.0, Severity::High, "risk-high"),
        (50.0, Severity::High, "high-risk-country"),
        (0.0, Severity::High, "high-risk-country"),
    ];
    for (score, severity, rule) in cases {
        let fields = json!({"country": "PA", "risk_score": score});
        assert_eq!(default_txn(fields), expect(severity, rule), "PA, risk {score}");
    }
}

#[test]
fn no_hint_in_force_skips_the_hint_rule() {
    // The engine passes the hint in force separately from the alert's own.
    let config = Config::default();
    let alert = email(json!({"severity_hint": "critical", "risk_score": 10}), &config);
    let decision = config.rules.classify(&alert, None, weekday_morning());
    assert_eq!(
        (decision.severity, decision.rule, decision.by_hint),
        (Severity::Low, "default-low", false)
    );
    let decision = config.rules.classify(&alert, Some(Severity::High), weekday_morning());
    assert_eq!(
        (decision.severity, decision.rule, decision.by_hint),
        (Severity::High, "severity-hint", true)
    );
}

/// Custom rules as a compliance team would write them.
const CUSTOM: &str = r#"
[[rules]]
name = "large-wire"
severity = "high"

[[rules.when]]
words = ["wire transfer"]
in = ["subject"]

[[rules.when]]
field = "amount"
above = 50000

[[rules]]
name = "pep"
severity = "critical"

[[rules.when]]
words = ["politically exposed person", "PEP"]
in = ["subject", "body", "description"]
whole_word = true

[[rules]]
name = "dollar-rows"
severity = "medium"

[[rules.when]]
field = "currency"
one_of = ["usd", " CAD "]

[[rules.when]]
field = "source"
one_of = ["csv"]

[[rules]]
name = "email-default"
severity = "low"
when = [{ field = "source", one_of = ["gmail"] }]

[[rules]]
name = "catch-all"
severity = "low"
"#;

fn custom() -> Config {
    Config::from_toml(CUSTOM).unwrap_or_else(|e| panic!("custom rules: {e}"))
}

fn custom_email(fields: Value) -> (Severity, String) {
    let config = custom();
    decide(&config, &email(fields, &config), weekday_morning())
}

fn custom_txn(fields: Value) -> (Severity, String) {
    let config = custom();
    decide(&config, &txn(fields, &config), weekday_morning())
}

#[test]
fn custom_wire_transfer_above_amount() {
    let wire = |subject: &str, amount: Value| json!({"subject": subject, "amount": amount});
    let high = expect(Severity::High, "large-wire");
    let low = expect(Severity::Low, "email-default");
    assert_eq!(custom_email(wire("Wire transfer to new beneficiary", json!("50000.01"))), high);
    assert_eq!(custom_email(wire("Outbound WIRE TRANSFER flagged", json!(75000))), high);
    // The amount is normalised first: `50.000,01` is 50000.01.
    assert_eq!(custom_email(wire("wire transfer", json!("50.000,01"))), high);
    // `above` is strict.
    assert_eq!(custom_email(wire("Wire transfer to new beneficiary", json!("50000"))), low);
    assert_eq!(custom_email(wire("Wire transfer to new beneficiary", json!("50000.00"))), low);
    // Both conditions must hold: no words, or no amount, or the words elsewhere.
    assert_eq!(custom_email(wire("Card payment", json!(90000))), low);
    assert_eq!(custom_email(json!({"subject": "Wire transfer"})), low);
    assert_eq!(custom_email(json!({"body": "wire transfer", "amount": 90000})), low);
}

#[test]
fn custom_pep_phrase_or_whole_word() {
    let critical = expect(Severity::Critical, "pep");
    let low = expect(Severity::Low, "email-default");
    assert_eq!(custom_email(json!({"subject": "PEP match"})), critical);
    assert_eq!(custom_email(json!({"body": "customer is a pep"})), critical);
    assert_eq!(custom_email(json!({"body": "Flagged as PEP."})), critical);
    assert_eq!(custom_email(json!({"body": "(pep)"})), critical);
    assert_eq!(custom_email(json!({"subject": "Politically Exposed Person screening"})), critical);
    assert_eq!(custom_txn(json!({"description": "pep/relative"})), critical);
    // Not a whole word.
    assert_eq!(custom_email(json!({"body": "pepper shipment"})), low);
    assert_eq!(custom_email(json!({"body": "PEPs and peppers"})), low);
    assert_eq!(custom_email(json!({"body": "pep_list"})), low);
    assert_eq!(custom_email(json!({"body": "apep"})), low);
    // Not in a searched field.
    assert_eq!(custom_email(json!({"vendor": "PEP screening"})), low);
}

#[test]
fn custom_one_of_on_currency_and_source() {
    let medium = expect(Severity::Medium, "dollar-rows");
    assert_eq!(custom_txn(json!({"currency": "USD"})), medium);
    assert_eq!(custom_txn(json!({"currency": " usd "})), medium);
    assert_eq!(custom_txn(json!({"currency": "cad"})), medium);
    assert_eq!(custom_txn(json!({"currency": "EUR"})), expect(Severity::Low, "catch-all"));
    assert_eq!(custom_txn(json!({})), expect(Severity::Low, "catch-all"));
    // An e-mail alert in dollars is not a `csv` source.
    assert_eq!(custom_email(json!({"currency": "USD"})), expect(Severity::Low, "email-default"));
}

#[test]
fn custom_rules_replace_the_defaults() {
    // No hint rule, no score rules: only what the file says.
    assert_eq!(
        custom_email(json!({"severity_hint": "critical", "risk_score": 99})),
        expect(Severity::Low, "email-default")
    );
    assert_eq!(custom().file.rules.len(), 5);
}

#[test]
fn numeric_bounds_all_four_ways() {
    let text = r#"
[[rules]]
name = "band"
severity = "high"
when = [{ field = "risk_score", above = 10, at_most = 20 }]

[[rules]]
name = "band2"
severity = "medium"
when = [{ field = "amount", at_least = 100, below = 200 }]

[[rules]]
name = "rest"
severity = "low"
"#;
    let config = Config::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
    let check = |fields: Value| decide(&config, &txn(fields, &config), weekday_morning());
    assert_eq!(check(json!({"risk_score": 10})), expect(Severity::Low, "rest"));
    assert_eq!(check(json!({"risk_score": 10.01})), expect(Severity::High, "band"));
    assert_eq!(check(json!({"risk_score": 20})), expect(Severity::High, "band"));
    assert_eq!(check(json!({"risk_score": 20.01})), expect(Severity::Low, "rest"));
    assert_eq!(check(json!({"amount": "99.99"})), expect(Severity::Low, "rest"));
    assert_eq!(check(json!({"amount": "100"})), expect(Severity::Medium, "band2"));
    assert_eq!(check(json!({"amount": "199.99"})), expect(Severity::Medium, "band2"));
    assert_eq!(check(json!({"amount": "200"})), expect(Severity::Low, "rest"));
    // A field the alert lacks never satisfies a bound.
    assert_eq!(check(json!({})), expect(Severity::Low, "rest"));
}

const ESCALATION: &str = r#"
[escalation]
name = "after-hours"
from = "high"
to = "critical"
timezone = "Europe/London"
start = "09:00"
end = "17:00"
weekdays = ["mon", "tue", "wed", "thu", "fri"]
"#;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("test time").with_timezone(&Utc)
}

#[test]
fn escalation_outside_london_business_hours() {
    let config = Config::from_toml(ESCALATION).unwrap_or_else(|e| panic!("{e}"));
    let high = email(json!({"risk_score": 80}), &config);
    let escalated = expect(Severity::Critical, "after-hours");
    let kept = expect(Severity::High, "risk-high");
    let cases = [
        // Saturday and Sunday, at midday.
        ("2024-12-14T12:00:00Z", &escalated),
        ("2024-07-14T12:00:00Z", &escalated),
        // Winter: London is on UTC.
        ("2024-12-11T08:59:59Z", &escalated),
        ("2024-12-11T09:00:00Z", &kept),
        ("2024-12-11T16:59:59Z", &kept),
        ("2024-12-11T17:00:00Z", &escalated),
        // Summer: London is UTC+1, so 08:00 UTC is 09:00 local.
        ("2024-07-10T07:59:00Z", &escalated),
        ("2024-07-10T08:00:00Z", &kept),
        ("2024-07-10T08:30:00Z", &kept),
        ("2024-07-10T15:59:00Z", &kept),
        ("2024-07-10T16:00:00Z", &escalated),
        // Friday 23:30 UTC in summer is already Saturday in London.
        ("2024-07-12T23:30:00Z", &escalated),
        // Monday 00:30 local in summer is still Sunday 23:30 UTC.
        ("2024-07-14T23:30:00Z", &escalated),
    ];
    for (now, want) in cases {
        assert_eq!(&decide(&config, &high, at(now)), want, "at {now}");
    }
}

#[test]
fn escalation_only_raises_its_own_severity() {
    let config = Config::from_toml(ESCALATION).unwrap_or_else(|e| panic!("{e}"));
    let saturday = at("2024-12-14T12:00:00Z");
    let medium = email(json!({"risk_score": 50}), &config);
    assert_eq!(decide(&config, &medium, saturday), expect(Severity::Medium, "risk-medium"));
    let critical = email(json!({"risk_score": 95}), &config);
    assert_eq!(decide(&config, &critical, saturday), expect(Severity::Critical, "risk-critical"));
    // A high decided by the hint is escalated too, and the audit names the escalation.
    let hinted = email(json!({"severity_hint": "high"}), &config);
    let decision = config.rules.classify(&hinted, hinted.hint, saturday);
    assert_eq!(
        (decision.severity, decision.rule, decision.by_hint),
        (Severity::Critical, "after-hours", false)
    );
    // Without an escalation section nothing changes at night.
    let plain = Config::default();
    assert_eq!(
        decide(&plain, &email(json!({"risk_score": 80}), &plain), saturday),
        expect(Severity::High, "risk-high")
    );
}

#[test]
fn escalation_defaults_and_engine_rule_name() {
    // Only the zone given: the rest are the documented defaults.
    let config = Config::from_toml("[escalation]\ntimezone = \"Europe/London\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::new(config);
    let alert = engine
        .normalise(raw(Source::Csv, json!({"txn_id": "T-1", "risk_score": 80})))
        .expect("valid");
    let assessed = engine.assess(alert.clone(), at("2024-12-14T12:00:00Z"));
    assert_eq!(
        (assessed.severity, assessed.rule.as_str()),
        (Severity::Critical, "after-hours-escalation")
    );
    let assessed = engine.assess(alert, at("2024-12-13T12:00:00Z"));
    assert_eq!((assessed.severity, assessed.rule.as_str()), (Severity::High, "risk-high"));
}

#[test]
fn csv_hint_from_score_restores_the_old_behaviour() {
    let config =
        Config::from_toml("[ingest]\ncsv_hint_from_score = 80\n").unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::new(config);
    let now = weekday_morning();
    let assess = |source: Source, fields: Value| {
        let alert = engine.normalise(raw(source, fields)).expect("valid alert");
        let assessed = engine.assess(alert, now);
        (assessed.severity, assessed.rule)
    };
    let csv = |fields: Value| {
        let mut fields = fields;
        fields["txn_id"] = json!("TXN-1");
        assess(Source::Csv, fields)
    };
    let hinted = expect(Severity::High, CSV_HINT_RULE);
    assert_eq!(CSV_HINT_RULE, "csv-hint-from-score");
    assert_eq!(csv(json!({"risk_score": "95"})), hinted);
    assert_eq!(csv(json!({"risk_score": "80"})), hinted);
    assert_eq!(csv(json!({"risk_score": "79.99"})), expect(Severity::High, "risk-high"));
    assert_eq!(
        csv(json!({"risk_score": "50", "country": "NG"})),
        expect(Severity::High, "high-risk-country")
    );
    // The forced hint comes first, like the old system's: a sanction row is only high.
    assert_eq!(csv(json!({"risk_score": "95", "description": "sanctions hit"})), hinted);
    // A row with its own hint keeps it, whatever its score.
    assert_eq!(
        csv(json!({"risk_score": "95", "severity_hint": "low"})),
        expect(Severity::Low, "severity-hint")
    );
    assert_eq!(
        csv(json!({"risk_score": "95", "severity_hint": "Critical"})),
        expect(Severity::Critical, "severity-hint")
    );
    // E-mail alerts are unaffected.
    let gmail = assess(Source::Gmail, json!({"message_id": "VA-1", "risk_score": 95}));
    assert_eq!(gmail, expect(Severity::Critical, "risk-critical"));
    // And without the switch a risky transaction is critical.
    let plain = Engine::new(Config::default());
    let alert = plain
        .normalise(raw(Source::Csv, json!({"txn_id": "T", "risk_score": "95"})))
        .expect("valid");
    let assessed = plain.assess(alert, now);
    assert_eq!((assessed.severity, assessed.rule.as_str()), (Severity::Critical, "risk-critical"));
}

/// The issues of a config that must not load.
fn issues(text: &str) -> Vec<ConfigIssue> {
    match Config::from_toml(text) {
        Ok(_) => panic!("config must be refused:\n{text}"),
        Err(e) => e.0,
    }
}

fn keys_and_lines(text: &str) -> Vec<(String, Option<usize>)> {
    issues(text).into_iter().map(|i| (i.key, i.line)).collect()
}

fn owned(pairs: &[(&str, Option<usize>)]) -> Vec<(String, Option<usize>)> {
    pairs.iter().map(|(k, l)| (k.to_string(), *l)).collect()
}

#[test]
fn last_rule_must_be_a_catch_all() {
    let text = "\
[[rules]]
name = \"hint\"
severity = \"hint\"

[[rules]]
name = \"risky\"
severity = \"high\"
when = [{ field = \"risk_score\", at_least = 50 }]
";
    assert_eq!(keys_and_lines(text), owned(&[("rules[1]", Some(5))]));
    assert!(issues(text)[0].message.contains("last rule"), "{:?}", issues(text));
    // `hint` as the last rule cannot decide for an alert without a hint.
    let text = "[[rules]]\nname = \"hint\"\nseverity = \"hint\"\n";
    assert_eq!(keys_and_lines(text), owned(&[("rules[0]", Some(1))]));
}

#[test]
fn unknown_severity_is_named() {
    let text = "\
[[rules]]
name = \"odd\"
severity = \"severe\"

[[rules]]
name = \"shouting\"
severity = \"High\"

[[rules]]
name = \"rest\"
severity = \"low\"
";
    assert_eq!(keys_and_lines(text), owned(&[("rules[0]", Some(1)), ("rules[1]", Some(5))]));
    let all = issues(text);
    assert!(all[0].message.contains("\"severe\""), "{all:?}");
    assert!(all[1].message.contains("\"High\""), "{all:?}");
}

#[test]
fn bad_condition_shapes_are_named() {
    let text = "\
[[rules]]
name = \"a\"
severity = \"high\"

[[rules.when]]
words = [\"wire\"]

[[rules]]
name = \"b\"
severity = \"high\"
when = [{ field = \"risk_score\", at_least = 1, above = 2 }]

[[rules]]
name = \"c\"
severity = \"high\"
when = [{ field = \"country\", one_of = [\"IR\"], at_least = 1 }, {}]

[[rules]]
name = \"d\"
severity = \"high\"
when = [{ words = [\"\"], in = [\"body\"] }, { words = [\"x\"], in = [\"body\"], field = \"amount\" }]

[[rules]]
name = \"rest\"
severity = \"low\"
";
    // The line is that of the rule the condition belongs to.
    let want = [
        ("rules[0].when[0]", Some(1)),
        ("rules[1].when[0]", Some(8)),
        ("rules[2].when[0]", Some(13)),
        ("rules[2].when[1]", Some(13)),
        ("rules[3].when[0]", Some(18)),
        ("rules[3].when[1]", Some(18)),
    ];
    let all = issues(text);
    assert_eq!(
        all.iter().map(|i| (i.key.clone(), i.line)).collect::<Vec<_>>(),
        owned(&want),
        "{all:?}"
    );
    assert!(all[0].message.contains("`in ="), "{all:?}");
    assert!(all[1].message.contains("one lower bound"), "{all:?}");
    assert!(all[4].message.contains("non-empty word"), "{all:?}");
}

#[test]
fn non_finite_bounds_and_unknown_condition_keys() {
    let text = "\
[[rules]]
name = \"a\"
severity = \"high\"
when = [{ field = \"risk_score\", at_least = nan }]

[[rules]]
name = \"rest\"
severity = \"low\"
";
    assert_eq!(keys_and_lines(text), owned(&[("rules[0].when[0]", Some(1))]));
    // A misspelt key is a parse error at its own line.
    let text = "\
[[rules]]
name = \"a\"
severity = \"high\"

[[rules.when]]
field = \"risk_score\"
atleast = 50
";
    let all = issues(text);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].line, Some(7), "{all:?}");
    assert!(all[0].message.contains("atleast"), "{all:?}");
}

const ROUTES: &str = "\
[routing]
critical = [\"slack:compliance-critical\", \"email:compliance-leads\"]
high = [\"slack:nowhere\", \"email:compliance\"]
medium = []
low = [\"pager:archive\"]
rejected = [\"email:compliance\"]
";

#[test]
fn routing_errors_name_the_row_and_line() {
    let all = issues(ROUTES);
    let found: Vec<_> = all.iter().map(|i| (i.key.as_str(), i.line)).collect();
    assert_eq!(
        found,
        [("routing.high", Some(3)), ("routing.low", Some(5)), ("routing.medium", Some(4))],
        "{all:?}"
    );
    assert!(all[0].message.contains("\"slack:nowhere\""), "{all:?}");
    assert!(all[1].message.contains("\"pager:archive\""), "{all:?}");
    assert!(all[2].message.contains("at least one destination"), "{all:?}");
}

#[test]
fn routing_rows_must_all_be_present_and_known() {
    let text = "[routing]\nurgent = [\"email:compliance\"]\n";
    let all = issues(text);
    let keys: Vec<_> = all.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "routing.urgent",
            "routing.critical",
            "routing.high",
            "routing.medium",
            "routing.low",
            "routing.rejected"
        ],
        "{all:?}"
    );
    assert_eq!(all[0].line, Some(2));
}

#[test]
fn destinations_need_their_details() {
    let text = "\
[destinations.\"email:compliance\"]
addresses = []
";
    let all = issues(text);
    assert!(
        all.iter()
            .any(|i| i.key == "destinations.email:compliance" && i.message.contains("addresses")),
        "{all:?}"
    );
}

#[test]
fn escalation_errors_are_named() {
    let text = "\
[escalation]
timezone = \"Mars/Olympus\"
start = \"9am\"
end = \"17:00\"
weekdays = [\"mon\", \"funday\"]
";
    let found: Vec<_> = issues(text).into_iter().map(|i| (i.key, i.line)).collect();
    assert_eq!(
        found,
        owned(&[
            ("escalation.timezone", Some(2)),
            ("escalation.start", Some(3)),
            ("escalation.weekdays", Some(5))
        ])
    );
}

#[test]
fn every_error_of_a_file_is_reported_at_once() {
    let text = format!("{ROUTES}\n[[rules]]\nname = \"x\"\nseverity = \"severe\"\n");
    let keys: Vec<_> = issues(&text).into_iter().map(|i| i.key).collect();
    assert!(keys.contains(&"rules[0]".to_string()), "{keys:?}");
    assert!(keys.contains(&"routing.high".to_string()), "{keys:?}");
    assert!(keys.contains(&"routing.medium".to_string()), "{keys:?}");
}

#[test]
fn config_hash_follows_content_not_layout() {
    let a = Config::from_toml(CUSTOM).unwrap_or_else(|e| panic!("{e}"));
    let with_comments = format!("# team rules\n{}\n# end\n", CUSTOM.replace("\n\n", "\n\n\n"));
    let b = Config::from_toml(&with_comments).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.hash, b.hash);
    assert_ne!(a.hash, Config::default().hash);
}
