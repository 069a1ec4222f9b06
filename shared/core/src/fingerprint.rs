//! The fingerprint: SHA-256 (lower-case hex) of the RFC 8785 canonical JSON of
//! `{"alert": <normalised alert>, "source": "<gmail|csv>"}`. Nesting the alert
//! keeps a producer field called `source` from colliding with ours, and
//! anyone holding an audit record's payload can recompute the hash with any
//! RFC 8785 implementation.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::model::Source;

/// RFC 8785 form of a JSON object.
pub fn canonical(payload: &Map<String, Value>) -> String {
    // Serialising a map of JSON values cannot fail: every key is a string and
    // every number a finite one.
    serde_json_canonicalizer::to_string(payload).unwrap_or_default()
}

/// Fingerprint of an alert whose canonical payload is `canonical_payload`.
pub fn fingerprint(source: Source, canonical_payload: &str) -> String {
    let mut hasher = Sha256::new();
    // `alert` sorts before `source`, so this is the canonical form of the
    // wrapping object without re-serialising the payload.
    hasher.update(b"{\"alert\":");
    hasher.update(canonical_payload.as_bytes());
    hasher.update(b",\"source\":\"");
    hasher.update(source.as_str().as_bytes());
    hasher.update(b"\"}");
    hex::encode(hasher.finalize())
}

/// Fingerprint of bytes that could not become an alert (rejections).
pub fn of_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrapper_matches_full_canonicalisation() {
        let payload = json!({"txn_id": "T-1", "source": "spoof", "risk_score": 87.0, "é": "ü"});
        let map = payload.as_object().cloned().unwrap_or_default();
        let whole = json!({"alert": payload, "source": "csv"});
        let expected =
            of_bytes(serde_json_canonicalizer::to_string(&whole).unwrap_or_default().as_bytes());
        assert_eq!(fingerprint(Source::Csv, &canonical(&map)), expected);
        assert_eq!(canonical(&map), r#"{"risk_score":87,"source":"spoof","txn_id":"T-1","é":"ü"}"#);
    }
}
