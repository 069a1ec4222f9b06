//! Field names as producers spell them, mapped to the canonical names of SPEC:
//! the config's field map first, then the built-in aliases, case-insensitive.

use std::collections::HashMap;

use crate::model::Source;

/// Canonical fields of e-mail alerts.
pub const JSON_FIELDS: &[&str] = &[
    "message_id",
    "vendor",
    "subject",
    "body",
    "severity_hint",
    "risk_score",
    "country",
    "created_at",
];

/// Canonical columns of transaction rows.
pub const CSV_FIELDS: &[&str] = &[
    "txn_id",
    "customer_id",
    "amount",
    "currency",
    "country",
    "txn_type",
    "risk_score",
    "created_at",
    "severity_hint",
    "description",
];

/// Aliases understood with no config, for both sources: (alias, canonical).
const COMMON_ALIASES: &[(&str, &str)] = &[
    ("received_at", "created_at"),
    ("timestamp", "created_at"),
    ("date", "created_at"),
    ("datetime", "created_at"),
    ("created", "created_at"),
    ("country_code", "country"),
    ("iso_country", "country"),
    ("score", "risk_score"),
    ("risk", "risk_score"),
    ("severity", "severity_hint"),
    ("hint", "severity_hint"),
];

/// Aliases for e-mail alerts only.
const JSON_ALIASES: &[(&str, &str)] = &[
    ("id", "message_id"),
    ("msg_id", "message_id"),
    ("from", "vendor"),
    ("sender", "vendor"),
    ("title", "subject"),
    ("text", "body"),
    ("message", "body"),
];

/// Aliases for transaction rows only. `external_id` is the old system's name.
const CSV_ALIASES: &[(&str, &str)] = &[
    ("id", "txn_id"),
    ("transaction_id", "txn_id"),
    ("external_id", "txn_id"),
    ("customer", "customer_id"),
    ("account_id", "customer_id"),
    ("type", "txn_type"),
    ("transaction_type", "txn_type"),
    ("memo", "description"),
    ("details", "description"),
];

/// Maps producer field names to canonical ones.
#[derive(Debug, Clone, Default)]
pub struct FieldMap {
    configured: HashMap<String, String>,
}

impl FieldMap {
    /// Builds the map from the config's `[fields]` table.
    pub(crate) fn new(
        table: &std::collections::BTreeMap<String, String>,
        issue: &mut dyn FnMut(String, String),
    ) -> FieldMap {
        let mut configured = HashMap::new();
        for (from, to) in table {
            if to.trim().is_empty() {
                issue(format!("fields.{from}"), "maps to an empty name".into());
                continue;
            }
            configured.insert(from.trim().to_lowercase(), to.trim().to_string());
        }
        FieldMap { configured }
    }

    /// The canonical name of `name` for `source`; unknown names are kept,
    /// trimmed.
    pub fn canonical(&self, source: Source, name: &str) -> String {
        let trimmed = name.trim();
        let lower = trimmed.to_lowercase();
        if let Some(target) = self.configured.get(&lower) {
            return target.clone();
        }
        let (fields, aliases) = match source {
            Source::Gmail => (JSON_FIELDS, JSON_ALIASES),
            Source::Csv => (CSV_FIELDS, CSV_ALIASES),
        };
        if let Some(field) = fields.iter().find(|f| **f == lower) {
            return (*field).to_string();
        }
        aliases
            .iter()
            .chain(COMMON_ALIASES)
            .find(|(alias, _)| *alias == lower)
            .map_or_else(|| trimmed.to_string(), |(_, field)| (*field).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn aliases_config_and_case() {
        let table = BTreeMap::from([("Buchungstag".to_string(), "created_at".to_string())]);
        let map = FieldMap::new(&table, &mut |k, m| panic!("{k}: {m}"));
        assert_eq!(map.canonical(Source::Csv, "TXN_ID"), "txn_id");
        assert_eq!(map.canonical(Source::Csv, " Account_ID "), "customer_id");
        assert_eq!(map.canonical(Source::Csv, "id"), "txn_id");
        assert_eq!(map.canonical(Source::Gmail, "id"), "message_id");
        assert_eq!(map.canonical(Source::Gmail, "from"), "vendor");
        assert_eq!(map.canonical(Source::Gmail, "Country_Code"), "country");
        assert_eq!(map.canonical(Source::Csv, "buchungstag"), "created_at");
        assert_eq!(map.canonical(Source::Csv, "Kontostand"), "Kontostand");
    }
}
