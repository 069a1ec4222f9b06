//! Prints the delivery messages the pipeline would enqueue for the sample
//! drops (fixed run id and time), as a JSON array of `{destination, body}`.
//! Used to write the SQS samples in `events/`; the sender tests check that
//! every sample body still parses as a `DeliveryMessage`.
//!
//!     cargo run -p triage-e2e --example sample_messages > /tmp/messages.json

use chrono::{TimeZone, Utc};
use triage_aws::audit::{AuditKey, event_key};
use triage_aws::queue::DeliveryMessage;
use triage_core::parse::{self, Item};
use triage_core::{Config, Engine, Outcome};

fn main() {
    let engine = Engine::new(Config::default());
    let now = Utc.with_ymd_and_hms(2024, 12, 9, 9, 15, 3).single().expect("valid time");
    let run_id = "20241209T091503Z-3f9c2a1b";
    let drops = [
        ("events/drops/transactions.csv", "incoming/transactions.csv"),
        ("events/drops/vendor-alerts.json", "incoming/vendor alerts+2024 12.json"),
        ("events/drops/bad-rows.csv", "incoming/bad-rows.csv"),
    ];
    let mut out = Vec::new();
    let mut sequence = 0;
    for (path, key) in drops {
        let file = std::fs::File::open(path).expect("run from the workspace root");
        let records = parse::records(key, file, engine.config()).expect("readable sample");
        for item in records {
            sequence += 1;
            let record = match item.expect("sample reads to the end") {
                Item::Record(raw) => match engine.normalise(raw) {
                    Ok(alert) => {
                        engine.audit(&engine.assess(alert, now), Outcome::Routed, run_id, now)
                    }
                    Err(rejected) => engine.audit_rejected(&rejected, run_id, now),
                },
                Item::Rejected(rejected) => engine.audit_rejected(&rejected, run_id, now),
            };
            let audit = AuditKey::of(&record, event_key(now, run_id, sequence));
            for destination in &record.routed_to {
                let message = DeliveryMessage::new(
                    &record,
                    &audit,
                    destination,
                    engine.config(),
                    "triage/slack/",
                )
                .expect("configured destination");
                let body = serde_json::to_string(&message).expect("serialisable");
                out.push(serde_json::json!({ "destination": destination, "origin": record.origin, "body": body }));
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
}
