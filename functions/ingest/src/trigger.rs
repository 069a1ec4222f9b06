//! What invoked ingest: the EventBridge schedule (sweep `incoming/`) or S3
//! `ObjectCreated` notifications (one object per record). Told apart by
//! inspecting the JSON: S3 events carry `Records`, scheduled events
//! `detail-type: Scheduled Event`.

use aws_lambda_events::s3::S3Event;
use percent_encoding::percent_decode_str;
use serde_json::Value;
use triage_aws::drops::INCOMING;

/// The work an invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Every object under `incoming/`.
    Sweep,
    /// These objects (decoded keys, in event order, no repeats).
    Objects(Vec<String>),
}

/// Reads an invocation payload. Records of other event types, other buckets
/// or outside `incoming/` are skipped with a warning.
pub fn parse(event: &Value, bucket: &str) -> Result<Trigger, String> {
    if event.get("Records").is_some() {
        let s3: S3Event =
            serde_json::from_value(event.clone()).map_err(|e| format!("not an S3 event: {e}"))?;
        let mut keys = Vec::new();
        for record in s3.records {
            let name = record.event_name.as_deref().unwrap_or_default();
            let key = record.s3.object.key.as_deref().map(decode_key);
            let record_bucket = record.s3.bucket.name.as_deref().unwrap_or_default();
            match key {
                Some(key)
                    if name.starts_with("ObjectCreated")
                        && record_bucket == bucket
                        && key.starts_with(INCOMING) =>
                {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                _ => tracing::warn!(event_name = name, bucket = record_bucket, "S3 record skipped"),
            }
        }
        return Ok(Trigger::Objects(keys));
    }
    let detail_type = event.get("detail-type").and_then(Value::as_str);
    let source = event.get("source").and_then(Value::as_str);
    if detail_type == Some("Scheduled Event") || source == Some("aws.events") {
        return Ok(Trigger::Sweep);
    }
    Err("neither an S3 notification nor a scheduled event".into())
}

/// S3 notification keys are form-encoded: `+` is a space, then `%XX`.
pub fn decode_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_schedule_sample_is_a_sweep() {
        assert_eq!(parse(&sample("schedule.json"), "triage-drops"), Ok(Trigger::Sweep));
    }

    #[test]
    fn the_s3_sample_names_both_objects_decoded() {
        assert_eq!(
            parse(&sample("s3-put.json"), "triage-drops"),
            Ok(Trigger::Objects(vec![
                "incoming/vendor alerts+2024 12.json".to_string(),
                "incoming/transactions.csv".to_string()
            ]))
        );
    }

    #[test]
    fn other_buckets_and_event_types_are_skipped() {
        assert_eq!(parse(&sample("s3-put.json"), "another-bucket"), Ok(Trigger::Objects(vec![])));
        let mut event = sample("s3-put.json");
        event["Records"][0]["eventName"] = "ObjectRemoved:Delete".into();
        assert_eq!(
            parse(&event, "triage-drops"),
            Ok(Trigger::Objects(vec!["incoming/transactions.csv".to_string()]))
        );
        assert!(parse(&serde_json::json!({"hello": 1}), "b").is_err());
    }
}
