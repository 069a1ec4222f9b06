//! Small harness for driving the `triage` binary in tests.

#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn drops(name: &str) -> PathBuf {
    repo().join("events").join("drops").join(name)
}

pub fn corpus(path: &str) -> PathBuf {
    repo().join("tests").join("fixtures").join("corpus").join(path)
}

/// Runs `triage` with `args`; returns the exit code, stdout and stderr.
pub fn triage(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(args)
        .env_remove("TRIAGE_DB")
        .env_remove("TRIAGE_CONFIG")
        .env_remove("DEDUP_WINDOW_MINUTES")
        .output()
        .expect("triage runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `triage run --json --db DB extra... paths...`: exit code and summary.
pub fn run_json(db: &Path, extra: &[&str], paths: &[&Path]) -> (i32, Value) {
    let mut args = vec!["run", "--json", "--db", db.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let (code, stdout, stderr) = triage(&args);
    let summary = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("summary is not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (code, summary)
}

/// (read, new, duplicate, rejected) of a summary.
pub fn counts(summary: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {summary}"));
    (n("read"), n("new"), n("duplicate"), n("rejected"))
}

/// One integer from SQL.
pub fn sql(db: &Path, query: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open db");
    conn.query_row(query, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{query}: {e}"))
}
