//! The examiners' questions from a DynamoDB export of the cloud audit table:
//! point-in-time recovery on, ExportTableToPointInTime into the bucket, and
//! the export read by the same report as `triage audit --export`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_dynamodb::types::{ExportFormat, ExportStatus, PointInTimeRecoverySpecification};
use triage_e2e::{Expected, Moto, SlackServer, Stack, event};

const DROPS: &[(&str, &str)] = &[
    ("events/drops/transactions.csv", "incoming/transactions.csv"),
    ("events/drops/vendor-alerts.json", "incoming/vendor-alerts.json"),
    ("events/drops/gmail-alert.json", "incoming/gmail-alert.json"),
    ("events/drops/bad-rows.csv", "incoming/bad-rows.csv"),
    ("events/drops/bad-alerts.json", "incoming/bad-alerts.json"),
];

#[tokio::test]
#[ignore = "needs the emulator venv: run tests/run.sh"]
async fn an_export_of_the_audit_table_answers_the_examiners_questions() {
    let moto = Moto::start();
    let sdk = moto.sdk().await;
    let slack = SlackServer::start().await;
    let stack = Stack::create(&sdk, &slack).await;
    let ingest =
        triage_ingest::Ingest::from_settings(&stack.settings, &stack.clients).await.unwrap();
    for (path, key) in DROPS {
        stack.upload(path, key).await;
    }
    let expected = Expected::of(DROPS);
    triage_ingest::handle(&ingest, event("schedule.json")).await.unwrap();
    for (path, key) in DROPS {
        stack.upload(path, &key.replace("incoming/", "incoming/again/")).await;
    }
    triage_ingest::handle(&ingest, event("schedule.json")).await.unwrap();

    let dynamodb = &stack.clients.dynamodb;
    let table = &stack.settings.audit_table;
    dynamodb
        .update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let arn = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .table_arn
        .unwrap();
    let export = dynamodb
        .export_table_to_point_in_time()
        .table_arn(arn)
        .s3_bucket(&stack.settings.bucket)
        .s3_prefix("exports")
        .export_format(ExportFormat::DynamodbJson)
        .send()
        .await
        .unwrap()
        .export_description
        .unwrap();
    let export_arn = export.export_arn.unwrap();
    for _ in 0..100 {
        let status = dynamodb.describe_export().export_arn(&export_arn).send().await.unwrap();
        if status.export_description.unwrap().export_status == Some(ExportStatus::Completed) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Download the export as an examiner would, keeping its layout.
    let dir = tempfile::tempdir().unwrap();
    let keys = stack.keys("exports/").await;
    assert!(keys.iter().any(|k| k.contains("/AWSDynamoDB/") && k.ends_with(".gz")), "{keys:?}");
    for key in keys {
        let object = stack
            .clients
            .s3
            .get_object()
            .bucket(&stack.settings.bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        let path = dir.path().join(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let report = triage_local::report_from_export(dir.path()).unwrap();
    let (read, new) = (expected.read, expected.new_alerts());
    let rejected = read - new;
    // Two sweeps of the same drops under two keys: the second is all
    // duplicates, and its bad rows are rejected again.
    assert_eq!(report.processed.total, 2 * read);
    assert_eq!(report.processed.routed, new);
    assert_eq!(report.processed.duplicate, new);
    assert_eq!(report.processed.rejected, 2 * rejected);
    assert_eq!(report.routed_without_destination, 0);
    assert_eq!(report.dedup.unique_fingerprints, new);
    assert_eq!(report.dedup.duplicates_suppressed, new);
    // Nothing was drained, so every delivery is pending: the first sweep's,
    // plus one notice per rejection of the second (rejections are claimed per
    // object and position, and the second drop is a new object).
    let pending: u64 =
        report.deliveries.iter().filter(|d| d.state == "pending").map(|d| d.count).sum();
    assert_eq!(pending, expected.deliveries.values().sum::<u64>() + rejected);
}
