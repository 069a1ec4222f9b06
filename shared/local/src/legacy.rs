//! Import from the old Python system: its dedup index cannot be reused (its
//! hash covers its own ingest record), so each payload of its audit log is
//! re-fingerprinted as this product would fingerprint the same alert, and
//! kept suppressed until its window, counted from the old first-seen time,
//! ends.

use std::path::Path;

use chrono::Utc;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde_json::{Map, Value};
use triage_core::normalise::RawRecord;
use triage_core::{Engine, Origin, Source, timestamp};

use crate::error::LocalError;
use crate::store::Store;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LegacyImport {
    /// Audit rows read from the old database.
    pub read: u64,
    /// Distinct fingerprints now suppressed.
    pub imported: u64,
    /// Rows that could not be re-fingerprinted, with the reason.
    pub skipped: Vec<String>,
}

/// Re-fingerprints the audit log of the old system's database at `legacy`
/// into `store`'s dedup index.
pub fn import_legacy(
    engine: &Engine,
    store: &mut Store,
    legacy: &Path,
) -> Result<LegacyImport, LocalError> {
    let db = |cause| LocalError::Database { path: legacy.to_path_buf(), cause };
    let conn = Connection::open_with_flags(legacy, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db)?;
    let mut statement = conn
        .prepare(
            "SELECT a.id, a.source, a.payload, COALESCE(d.first_seen_utc, a.triaged_at_utc)
             FROM audit_log a LEFT JOIN dedup_index d ON d.alert_hash = a.alert_hash
             ORDER BY a.id",
        )
        .map_err(db)?;
    let mut rows = statement.query([]).map_err(db)?;
    let mut import = LegacyImport::default();
    let mut seen = Vec::new();
    let object = legacy.display().to_string();
    while let Some(row) = rows.next().map_err(db)? {
        import.read += 1;
        let id: i64 = row.get(0).map_err(db)?;
        let source: String = row.get(1).map_err(db)?;
        let payload: String = row.get(2).map_err(db)?;
        let first_seen: String = row.get(3).map_err(db)?;
        let origin =
            Origin { object: object.clone(), line: None, index: u64::try_from(id).unwrap_or(0) };
        match fingerprint(engine, &source, &payload, origin) {
            Ok((key, source)) => {
                let Some(first_seen) = timestamp::parse(&first_seen, &[]) else {
                    import.skipped.push(format!(
                        "audit_log id {id}: first seen {first_seen:?} is not a time"
                    ));
                    continue;
                };
                seen.push((key, first_seen.timestamp(), source));
            }
            Err(reason) => import.skipped.push(format!("audit_log id {id}: {reason}")),
        }
    }
    import.imported = store.import_seen(&seen)?;
    Ok(import)
}

/// The fingerprint this product gives the alert behind an old payload.
fn fingerprint(
    engine: &Engine,
    source: &str,
    payload: &str,
    origin: Origin,
) -> Result<([u8; 32], Source), String> {
    let source = match source {
        "gmail" => Source::Gmail,
        "csv" => Source::Csv,
        other => return Err(format!("unknown source {other:?}")),
    };
    let mut fields: Map<String, Value> =
        serde_json::from_str(payload).map_err(|e| format!("payload is not a JSON object: {e}"))?;
    fields.remove("source");
    if source == Source::Csv {
        // The old system made this hint up from the risk score; the row it
        // read had none, and a resent row will not either.
        fields.remove("severity_hint");
    }
    let raw = RawRecord {
        source,
        origin,
        fields: fields.into_iter().collect(),
        mapped: false,
        raw: payload.to_string(),
    };
    let alert = engine.normalise(raw).map_err(|rejected| rejected.to_string())?;
    let assessed = engine.assess(alert, Utc::now());
    let mut key = [0u8; 32];
    hex::decode_to_slice(&assessed.fingerprint, &mut key).map_err(|e| e.to_string())?;
    Ok((key, source))
}
