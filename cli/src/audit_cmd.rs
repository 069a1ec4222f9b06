//! `triage audit`: the examiners' five questions, plus delivery states, from
//! the SQLite audit log.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rusqlite::{Connection, OpenFlags};
use triage_core::Severity;
use triage_core::audit::Outcome;
use triage_core::report::{AuditReport, ReportBuilder, ReportRow};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// SQLite database written by `triage run`.
    #[arg(long, env = "TRIAGE_DB", default_value = "triage.db")]
    db: PathBuf,
    /// Read a DynamoDB export of the cloud audit table instead (the folder
    /// holding `AWSDynamoDB/<id>/data/*.json.gz`).
    #[arg(long, conflicts_with = "db")]
    export: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    let report = match &args.export {
        Some(dir) => triage_local::report_from_export(dir)?,
        None => {
            let db = &args.db;
            anyhow::ensure!(
                db.exists(),
                "no database at {} (run `triage run` first)",
                db.display()
            );
            let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("cannot open {}", db.display()))?;
            report(&conn)
                .with_context(|| format!("cannot read the audit log in {}", db.display()))?
        }
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Csv => print!("{}", csv(&report)),
        Format::Table => print!("{}", table(&report)),
    }
    Ok(())
}

/// Reads every audit row and delivery count into the report.
pub fn report(conn: &Connection) -> rusqlite::Result<AuditReport> {
    let mut builder = ReportBuilder::default();
    let mut rows = conn.prepare(
        "SELECT outcome, severity, routed_to, sla_seconds, alert_hash, dry_run FROM audit_log",
    )?;
    let mut cursor = rows.query([])?;
    while let Some(row) = cursor.next()? {
        let outcome = match row.get_ref(0)?.as_str()? {
            "routed" => Outcome::Routed,
            "duplicate" => Outcome::Duplicate,
            _ => Outcome::Rejected,
        };
        let report_row = ReportRow {
            outcome,
            severity: row.get::<_, Option<String>>(1)?.as_deref().and_then(Severity::from_hint),
            routed_to: row.get(2)?,
            sla_seconds: row.get(3)?,
            alert_hash: row.get(4)?,
        };
        // A dry run queues no deliveries; what it would have sent is `routed_to`.
        if row.get::<_, bool>(5)? {
            for destination in report_row.routed_to.split(',').filter(|d| !d.is_empty()) {
                builder.add_delivery(destination, "dry_run", 1);
            }
        }
        builder.add(&report_row);
    }
    let mut deliveries = conn
        .prepare("SELECT destination, state, COUNT(*) FROM delivery GROUP BY destination, state")?;
    let mut cursor = deliveries.query([])?;
    while let Some(row) = cursor.next()? {
        builder.add_delivery(
            &row.get::<_, String>(0)?,
            &row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?.unsigned_abs(),
        );
    }
    Ok(builder.finish())
}

fn table(report: &AuditReport) -> String {
    let p = &report.processed;
    let mut out = String::new();
    out.push_str(&format!(
        "1. alerts processed: {} (routed {}, duplicate {}, rejected {})\n",
        p.total, p.routed, p.duplicate, p.rejected
    ));
    out.push_str("2. severity distribution (routed):\n");
    for share in &report.severity_distribution {
        out.push_str(&format!(
            "   {:<9}{:>10}{:>9.2}%\n",
            share.severity.as_str(),
            share.count,
            share.percent
        ));
    }
    out.push_str(&format!(
        "3. routed with no destination: {}\n",
        report.routed_without_destination
    ));
    out.push_str("4. SLA seconds by severity (routed):\n");
    out.push_str(&format!(
        "   {:<9}{:>10}{:>14}{:>12}{:>12}{:>12}\n",
        "severity", "count", "average", "max", "p50", "p95"
    ));
    for s in &report.sla_by_severity {
        out.push_str(&format!(
            "   {:<9}{:>10}{:>14.1}{:>12}{:>12}{:>12}\n",
            s.severity.as_str(),
            s.count,
            s.average,
            s.max,
            s.p50,
            s.p95
        ));
    }
    let d = &report.dedup;
    out.push_str(&format!(
        "5. dedup: {} fingerprinted, {} unique fingerprints, {} duplicates suppressed\n",
        d.total, d.unique_fingerprints, d.duplicates_suppressed
    ));
    out.push_str("deliveries:\n");
    for delivery in &report.deliveries {
        out.push_str(&format!(
            "   {:<28}{:<9}{:>10}\n",
            delivery.destination, delivery.state, delivery.count
        ));
    }
    out
}

fn csv(report: &AuditReport) -> String {
    let p = &report.processed;
    let mut out = String::from("question,subject,metric,value\n");
    let mut line = |q: &str, subject: &str, metric: &str, value: String| {
        out.push_str(&format!("{q},{subject},{metric},{value}\n"));
    };
    line("processed", "all", "total", p.total.to_string());
    line("processed", "all", "routed", p.routed.to_string());
    line("processed", "all", "duplicate", p.duplicate.to_string());
    line("processed", "all", "rejected", p.rejected.to_string());
    for share in &report.severity_distribution {
        line("severity", share.severity.as_str(), "count", share.count.to_string());
        line("severity", share.severity.as_str(), "percent", format!("{:.2}", share.percent));
    }
    line("unrouted", "routed", "no_destination", report.routed_without_destination.to_string());
    for s in &report.sla_by_severity {
        let name = s.severity.as_str();
        line("sla", name, "count", s.count.to_string());
        line("sla", name, "average", format!("{:.1}", s.average));
        line("sla", name, "max", s.max.to_string());
        line("sla", name, "p50", s.p50.to_string());
        line("sla", name, "p95", s.p95.to_string());
    }
    let d = &report.dedup;
    line("dedup", "all", "fingerprinted", d.total.to_string());
    line("dedup", "all", "unique", d.unique_fingerprints.to_string());
    line("dedup", "all", "duplicates_suppressed", d.duplicates_suppressed.to_string());
    for delivery in &report.deliveries {
        line("delivery", &delivery.destination, &delivery.state, delivery.count.to_string());
    }
    out
}
