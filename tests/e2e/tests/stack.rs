//! The serverless pipeline against moto server: the ingest and sender
//! handlers called in-process with the SDK pointed at the emulator, and a
//! local Slack webhook server. Run by tests/run.sh (`--include-ignored`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use aws_lambda_events::sqs::SqsBatchResponse;
use chrono::{Duration, Utc};
use triage_aws::dedup::{Claim, ClaimRequest};
use triage_aws::queue::DeliveryMessage;
use triage_e2e::{CHANNELS, Expected, Moto, SlackServer, Stack, event, s3_event, sqs_event};
use triage_email_sender::EmailSender;
use triage_ingest::Ingest;
use triage_slack_sender::SlackSender;

/// The sample drops and the keys they are uploaded under (one with a space
/// and a `+`, as in events/s3-put.json).
const DROPS: &[(&str, &str)] = &[
    ("events/drops/transactions.csv", "incoming/transactions.csv"),
    ("events/drops/vendor-alerts.json", "incoming/vendor alerts+2024 12.json"),
    ("events/drops/gmail-alert.json", "incoming/gmail-alert.json"),
    ("events/drops/bad-rows.csv", "incoming/bad-rows.csv"),
    ("events/drops/bad-alerts.json", "incoming/bad-alerts.json"),
];

struct World {
    _moto: Moto,
    slack: SlackServer,
    stack: Stack,
    ingest: Ingest,
}

async fn world() -> World {
    let moto = Moto::start();
    let sdk = moto.sdk().await;
    let slack = SlackServer::start().await;
    let stack = Stack::create(&sdk, &slack).await;
    let ingest = Ingest::from_settings(&stack.settings, &stack.clients).await.unwrap();
    World { _moto: moto, slack, stack, ingest }
}

fn failures(response: &SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[tokio::test]
#[ignore = "needs the emulator venv: run tests/run.sh"]
async fn scheduled_ingest_routes_every_alert_once_and_the_senders_deliver_them() {
    let w = world().await;
    for (path, key) in DROPS {
        w.stack.upload(path, key).await;
    }
    let expected = Expected::of(DROPS);
    assert_eq!(
        (expected.read, expected.rejected, expected.new_alerts()),
        (91, 7, 84),
        "the sample drops changed"
    );

    let summary = triage_ingest::handle(&w.ingest, event("schedule.json")).await.unwrap();
    assert_eq!(summary.read, expected.read);
    assert_eq!(summary.new, expected.new_alerts());
    assert_eq!(summary.rejected, expected.rejected);
    assert_eq!(summary.duplicate, expected.read - expected.new_alerts() - expected.rejected);
    assert_eq!(summary.in_flight, 0);
    assert_eq!(summary.by_destination, expected.deliveries);
    assert_eq!(
        (summary.objects.processed, summary.objects.quarantined, summary.objects.left),
        (5, 0, 0)
    );

    // Every fingerprint claimed once and marked enqueued; one audit item per alert read.
    let dedup = w.stack.scan(&w.stack.settings.dedup_table).await;
    let states: Vec<&str> = dedup.iter().map(|i| i["state"].as_s().unwrap().as_str()).collect();
    assert_eq!(dedup.len() as u64, expected.new_alerts() + expected.rejected);
    assert!(states.iter().all(|s| *s == "enqueued"), "{states:?}");
    for hash in &expected.unique {
        assert!(dedup.iter().any(|i| i["alert_hash"].as_s().unwrap() == hash));
    }
    let audit = w.stack.scan(&w.stack.settings.audit_table).await;
    assert_eq!(audit.len() as u64, expected.read);

    // Exactly the routed messages on each queue.
    let slack_messages = w.stack.drain(&w.stack.settings.slack_queue_url).await;
    let email_messages = w.stack.drain(&w.stack.settings.email_queue_url).await;
    assert_eq!(slack_messages.len() as u64, expected.deliveries_to("slack:"));
    assert_eq!(email_messages.len() as u64, expected.deliveries_to("email:"));
    assert_eq!(summary.enqueued.slack, slack_messages.len() as u64);
    assert_eq!(summary.enqueued.email, email_messages.len() as u64);

    // Senders drained: one webhook call per (alert, Slack destination) on
    // the channel's own webhook, one SES e-mail per e-mail delivery.
    let slack_sender = SlackSender::from_settings(&w.stack.settings, &w.stack.clients).unwrap();
    for chunk in slack_messages.chunks(10) {
        let response = triage_slack_sender::handle(&slack_sender, sqs_event(chunk)).await;
        assert!(failures(&response).is_empty());
    }
    let email_sender = EmailSender::from_settings(&w.stack.settings, &w.stack.clients).unwrap();
    for chunk in email_messages.chunks(10) {
        let response = triage_email_sender::handle(&email_sender, sqs_event(chunk)).await;
        assert!(failures(&response).is_empty());
    }
    let hooks = w.slack.hooks();
    assert_eq!(hooks.len() as u64, expected.deliveries_to("slack:"));
    let mut per_path: BTreeMap<String, u64> = BTreeMap::new();
    for hook in &hooks {
        *per_path.entry(hook.path.clone()).or_default() += 1;
        assert!(hook.body.starts_with("{\"text\":"), "{}", hook.body);
    }
    for channel in CHANNELS {
        let routed = expected.deliveries.get(&format!("slack:{channel}")).copied().unwrap_or(0);
        assert_eq!(
            per_path.get(&format!("/hooks/{channel}")).copied().unwrap_or(0),
            routed,
            "{channel}"
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (_, body) in &slack_messages {
        let message: DeliveryMessage = serde_json::from_str(body).unwrap();
        assert!(seen.insert((message.audit.clone(), message.notice.destination.clone())));
    }
    assert_eq!(w.stack.ses_sent().await as u64, expected.deliveries_to("email:"));

    // Every delivery recorded as sent; a redelivery of the whole Slack queue sends nothing more.
    let audit = w.stack.scan(&w.stack.settings.audit_table).await;
    let mut delivered = 0;
    for item in &audit {
        for (destination, entry) in item["deliveries"].as_m().unwrap() {
            let entry = entry.as_m().unwrap();
            assert_eq!(entry["state"].as_s().unwrap(), "sent", "{destination}");
            assert_eq!(entry["attempts"].as_n().unwrap(), "1");
            delivered += 1;
        }
    }
    assert_eq!(delivered, expected.deliveries.values().sum::<u64>());
    for chunk in slack_messages.chunks(10) {
        assert!(
            failures(&triage_slack_sender::handle(&slack_sender, sqs_event(chunk)).await)
                .is_empty()
        );
    }
    assert_eq!(w.slack.hooks().len(), hooks.len());

    // Objects moved out of incoming/.
    assert!(w.stack.keys("incoming/").await.is_empty());
    let processed: Vec<String> =
        sorted(DROPS.iter().map(|(_, k)| k.replace("incoming/", "processed/")).collect());
    assert_eq!(w.stack.keys("processed/").await, processed);
}

#[tokio::test]
#[ignore = "needs the emulator venv: run tests/run.sh"]
async fn the_same_drop_again_under_a_new_key_is_all_duplicates() {
    let w = world().await;
    let drop = [("events/drops/transactions.csv", "incoming/transactions.csv")];
    let expected = Expected::of(&drop);
    w.stack.upload(drop[0].0, drop[0].1).await;
    let first = triage_ingest::handle(&w.ingest, event("schedule.json")).await.unwrap();
    assert_eq!((first.read, first.new, first.rejected), (expected.read, expected.new_alerts(), 0));
    let routed = w.stack.drain(&w.stack.settings.slack_queue_url).await.len()
        + w.stack.drain(&w.stack.settings.email_queue_url).await.len();
    assert_eq!(routed as u64, expected.deliveries.values().sum::<u64>());

    let again = "incoming/resent/transactions copy+1.csv";
    w.stack.upload(drop[0].0, again).await;
    let second = triage_ingest::handle(&w.ingest, s3_event(&w.stack.settings.bucket, &[again]))
        .await
        .unwrap();
    assert_eq!(
        (second.read, second.new, second.duplicate, second.rejected),
        (expected.read, 0, expected.read, 0)
    );
    assert_eq!((second.enqueued.slack, second.enqueued.email), (0, 0));
    assert!(second.by_destination.is_empty());
    assert!(w.stack.drain(&w.stack.settings.slack_queue_url).await.is_empty());
    assert!(w.stack.drain(&w.stack.settings.email_queue_url).await.is_empty());
    assert_eq!(
        w.stack.keys("processed/").await,
        ["processed/resent/transactions copy+1.csv", "processed/transactions.csv"]
    );
    assert_eq!(w.stack.scan(&w.stack.settings.audit_table).await.len() as u64, 2 * expected.read);
}

#[tokio::test]
#[ignore = "needs the emulator venv: run tests/run.sh"]
async fn two_invocations_on_one_object_at_once_claim_each_alert_once() {
    let w = world().await;
    let drop = [("events/drops/vendor-alerts.json", "incoming/vendor alerts+2024 12.json")];
    let expected = Expected::of(&drop);
    w.stack.upload(drop[0].0, drop[0].1).await;
    let s3 = s3_event(&w.stack.settings.bucket, &[drop[0].1]);
    let (a, b) = tokio::join!(
        triage_ingest::handle(&w.ingest, event("schedule.json")),
        triage_ingest::handle(&w.ingest, s3)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.new + b.new, expected.new_alerts(), "a: {a:?}\nb: {b:?}");
    assert_eq!(a.read, expected.read);
    assert_eq!(b.read, expected.read);
    let messages = w.stack.drain(&w.stack.settings.slack_queue_url).await.len()
        + w.stack.drain(&w.stack.settings.email_queue_url).await.len();
    assert_eq!(messages as u64, expected.deliveries.values().sum::<u64>());
    let dedup = w.stack.scan(&w.stack.settings.dedup_table).await;
    assert_eq!(dedup.len() as u64, expected.new_alerts() + expected.rejected);
    // The object left incoming/ once: by whichever run saw no alert in flight.
    if a.in_flight + b.in_flight > 0 {
        // A run that met the other's live claims leaves the object; the next sweep moves it.
        let later = triage_ingest::handle(&w.ingest, event("schedule.json")).await.unwrap();
        assert_eq!(later.new, 0);
    }
    assert!(w.stack.keys("incoming/").await.is_empty());
    assert_eq!(w.stack.keys("processed/").await, ["processed/vendor alerts+2024 12.json"]);
}

#[tokio::test]
#[ignore = "needs the emulator venv: run tests/run.sh"]
async fn an_unreadable_object_is_quarantined_with_a_report_and_the_run_goes_on() {
    let w = world().await;
    w.stack
        .upload_bytes(b"\xc3\x28\xa0\xa1 not,utf8\n\xff,\xfe\n".to_vec(), "incoming/broken.csv")
        .await;
    w.stack.upload("events/drops/gmail-alert.json", "incoming/gmail-alert.json").await;
    let summary = triage_ingest::handle(&w.ingest, event("schedule.json")).await.unwrap();
    assert_eq!(
        (summary.objects.processed, summary.objects.quarantined, summary.objects.left),
        (1, 1, 0)
    );
    assert_eq!((summary.read, summary.new), (1, 1));
    assert_eq!(
        w.stack.keys("quarantine/").await,
        ["quarantine/broken.csv", "quarantine/broken.csv.error.json"]
    );
    let report: serde_json::Value =
        serde_json::from_str(&w.stack.object_text("quarantine/broken.csv.error.json").await)
            .unwrap();
    assert_eq!(report["object"], "incoming/broken.csv");
    assert_eq!(report["records_processed_before_error"], 0);
    assert_eq!(report["run_id"], summary.run_id.as_str());
    assert!(report["error"].as_str().unwrap().contains("UTF-8"), "{report}");
    assert_eq!(w.stack.keys("processed/").await, ["processed/gmail-alert.json"]);
}

#[tokio::test]
#[ignore = "needs the emulator venv: run tests/run.sh"]
async fn a_sender_batch_with_one_poisoned_message_fails_only_that_message() {
    let w = world().await;
    w.stack.upload("events/drops/transactions.csv", "incoming/transactions.csv").await;
    triage_ingest::handle(&w.ingest, event("schedule.json")).await.unwrap();
    let mut messages: Vec<(String, String)> =
        w.stack.drain(&w.stack.settings.slack_queue_url).await.into_iter().take(3).collect();
    assert_eq!(messages.len(), 3);
    let body = &messages[1].1;
    messages[1].1 = body[..body.len() / 2].to_string();
    let poisoned = messages[1].0.clone();
    let sender = SlackSender::from_settings(&w.stack.settings, &w.stack.clients).unwrap();
    let response = triage_slack_sender::handle(&sender, sqs_event(&messages)).await;
    assert_eq!(failures(&response), [poisoned]);
    assert_eq!(w.slack.hooks().len(), 2);
}

#[tokio::test]
#[ignore = "needs the emulator venv: run tests/run.sh"]
async fn a_claim_left_by_a_crashed_run_is_finished_not_taken_for_a_duplicate() {
    let w = world().await;
    let drop = [("events/drops/gmail-alert.json", "incoming/gmail-alert.json")];
    let expected = Expected::of(&drop);
    let hash = expected.unique.iter().next().unwrap().clone();
    // A run claimed the alert, then died before auditing and enqueueing it:
    // its lease has expired.
    let crashed = w.ingest.dedup.clone().with_lease_seconds(60);
    let claimed_at = Utc::now() - Duration::minutes(30);
    let request = ClaimRequest {
        key: &hash,
        source: "gmail",
        run_id: "crashed-run",
        audit_event: "2024-12-09T09:15:03Z#crashed-run#00000001",
        now: claimed_at,
    };
    assert_eq!(crashed.claim(request).await.unwrap(), Claim::New);

    w.stack.upload(drop[0].0, drop[0].1).await;
    let summary = triage_ingest::handle(&w.ingest, event("schedule.json")).await.unwrap();
    assert_eq!((summary.read, summary.new, summary.duplicate), (1, 1, 0));
    assert_eq!(w.ingest.dedup.state(&hash).await.unwrap().as_deref(), Some("enqueued"));
    let messages = [
        w.stack.drain(&w.stack.settings.slack_queue_url).await,
        w.stack.drain(&w.stack.settings.email_queue_url).await,
    ]
    .concat();
    assert_eq!(messages.len() as u64, expected.deliveries.values().sum::<u64>());
    for (_, body) in &messages {
        let message: DeliveryMessage = serde_json::from_str(body).unwrap();
        assert_eq!(
            message.audit.event, "2024-12-09T09:15:03Z#crashed-run#00000001",
            "the first run's record"
        );
    }
    let audit = w.stack.scan(&w.stack.settings.audit_table).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["outcome"].as_s().unwrap(), "routed");

    // A claim whose lease is still live belongs to a running invocation:
    // audited as a duplicate, and the object stays for a later sweep.
    let other = "incoming/again/gmail-alert.json";
    w.stack.upload(drop[0].0, other).await;
    // Re-open the claim as a live one held by another run.
    w.stack
        .clients
        .dynamodb
        .update_item()
        .table_name(&w.stack.settings.dedup_table)
        .key("alert_hash", aws_sdk_dynamodb::types::AttributeValue::S(hash.clone()))
        .update_expression("SET #s = :c, run_id = :r, lease_until = :l")
        .expression_attribute_names("#s", "state")
        .expression_attribute_values(
            ":c",
            aws_sdk_dynamodb::types::AttributeValue::S("claimed".into()),
        )
        .expression_attribute_values(
            ":r",
            aws_sdk_dynamodb::types::AttributeValue::S("running-run".into()),
        )
        .expression_attribute_values(
            ":l",
            aws_sdk_dynamodb::types::AttributeValue::N((Utc::now().timestamp() + 600).to_string()),
        )
        .send()
        .await
        .unwrap();
    let summary = triage_ingest::handle(&w.ingest, event("schedule.json")).await.unwrap();
    assert_eq!((summary.read, summary.new, summary.duplicate, summary.in_flight), (1, 0, 1, 1));
    assert_eq!(summary.objects.left, 1);
    assert_eq!(w.stack.keys("incoming/").await, [other]);
}

#[tokio::test]
#[ignore = "needs the emulator venv: run tests/run.sh"]
async fn a_dry_run_sender_records_dry_run_and_refuses_a_message_with_no_audit_item() {
    let w = world().await;
    w.stack.upload("events/drops/transactions.csv", "incoming/transactions.csv").await;
    triage_ingest::handle(&w.ingest, event("schedule.json")).await.unwrap();
    let messages = w.stack.drain(&w.stack.settings.slack_queue_url).await;
    let (id, body) = messages[0].clone();
    let mut forged: serde_json::Value = serde_json::from_str(&body).unwrap();
    forged["audit"]["event"] = serde_json::json!("2024-01-01T00:00:00Z#no-such-run#00000000");
    let batch = [(id.clone(), body), ("forged".to_string(), forged.to_string())];

    let settings = triage_aws::Settings { dry_run: true, ..w.stack.settings.clone() };
    let sender = SlackSender::from_settings(&settings, &w.stack.clients).unwrap();
    let response = triage_slack_sender::handle(&sender, sqs_event(&batch)).await;
    assert_eq!(failures(&response), ["forged"]);
    assert!(w.slack.hooks().is_empty(), "a dry run posts nothing");
    let states: Vec<String> = w
        .stack
        .scan(&w.stack.settings.audit_table)
        .await
        .iter()
        .flat_map(|item| {
            item["deliveries"]
                .as_m()
                .unwrap()
                .values()
                .map(|d| d.as_m().unwrap()["state"].as_s().unwrap().clone())
        })
        .filter(|state| state == "dry_run")
        .collect();
    assert_eq!(states.len(), 1);
}
