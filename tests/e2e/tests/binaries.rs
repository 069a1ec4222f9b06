//! The real `ingest` binary under `cargo lambda watch`, invoked with
//! `cargo lambda invoke --data-file events/schedule.json`, against moto.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use triage_e2e::{Expected, Moto, SlackServer, Stack, free_port, repo, venv, wait_for_port};

/// `cargo lambda watch` and everything it started (one process group).
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn path_with_venv() -> String {
    let bin = venv().join("bin");
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

#[tokio::test]
#[ignore = "needs the emulator venv: run tests/run.sh"]
async fn the_ingest_binary_under_cargo_lambda_reports_the_counts() {
    assert!(
        venv().join("bin/cargo-lambda").exists(),
        "cargo-lambda is missing from the venv: run tests/run.sh"
    );
    let moto = Moto::start();
    let slack = SlackServer::start().await;
    let stack = Stack::create(&moto.sdk().await, &slack).await;
    let drops = [
        ("events/drops/transactions.csv", "incoming/transactions.csv"),
        ("events/drops/bad-rows.csv", "incoming/bad-rows.csv"),
    ];
    for (path, key) in drops {
        stack.upload(path, key).await;
    }
    let expected = Expected::of(&drops);

    let port = free_port();
    let mut environment = stack.function_env(&moto.endpoint, false);
    environment.push(("RUST_LOG", "info".to_string()));
    let child = Command::new("cargo")
        .args(["lambda", "watch", "-A", "127.0.0.1", "-P", &port.to_string(), "--ignore-changes"])
        .current_dir(repo())
        .env("PATH", path_with_venv())
        .envs(environment)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let _watch = Watch(child);
    wait_for_port(port, Duration::from_secs(120));

    // The first invocation builds the binary (debug, shared target dir).
    let output = tokio::task::spawn_blocking(move || {
        Command::new("cargo")
            .args(["lambda", "invoke", "ingest", "-A", "127.0.0.1", "-P", &port.to_string()])
            .args(["--data-file", "events/schedule.json"])
            .current_dir(repo())
            .env("PATH", path_with_venv())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "invoke failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["read"], expected.read);
    assert_eq!(summary["new"], expected.new_alerts());
    assert_eq!(summary["duplicate"], 0);
    assert_eq!(summary["rejected"], expected.rejected);
    assert_eq!(summary["objects"]["processed"], 2);
    assert_eq!(summary["enqueued"]["slack"], expected.deliveries_to("slack:"));
    assert_eq!(summary["enqueued"]["email"], expected.deliveries_to("email:"));
    assert_eq!(
        stack.keys("processed/").await,
        ["processed/bad-rows.csv", "processed/transactions.csv"]
    );
    assert_eq!(
        stack.drain(&stack.settings.slack_queue_url).await.len() as u64,
        expected.deliveries_to("slack:")
    );
}
