//! The rules config a compliance team edits: one TOML file whose built-in
//! default is exactly SPEC's rules, routing and thresholds. Loading validates
//! everything and names the key and line of each error.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::classify::{self, RuleSet};
use crate::fields::FieldMap;
use crate::model::{Severity, Source};
use crate::number::DecimalStyle;
use crate::route::Routing;

/// Longest dedup window accepted: ten years, in minutes.
pub const MAX_WINDOW_MINUTES: u64 = 10 * 366 * 24 * 60;

/// Every key of the TOML file; defaults are SPEC's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    pub ingest: IngestSection,
    pub csv: CsvSection,
    pub timestamps: TimestampSection,
    /// Producer field name (any case) -> canonical field name.
    pub fields: BTreeMap<String, String>,
    pub dedup: DedupSection,
    pub rules: Vec<classify::RuleSpec>,
    pub escalation: Option<classify::EscalationSpec>,
    pub routing: BTreeMap<String, Vec<String>>,
    pub destinations: BTreeMap<String, DestinationSpec>,
    /// Target seconds from `created_at` to triage, per severity.
    pub sla: BTreeMap<Severity, u64>,
    pub limits: Limits,
    pub delivery: DeliverySection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSection {
    /// The old system's rule: a transaction with `risk_score` at or above this
    /// and no hint of its own is treated as hinted `high`.
    pub csv_hint_from_score: Option<f64>,
    /// Fields an e-mail alert must carry.
    pub required_json: Vec<String>,
    /// Columns a transaction row must carry.
    pub required_csv: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvSection {
    /// `auto` (sniffed from the header line) or one character.
    pub delimiter: String,
    /// Encoding of files without a byte-order mark (WHATWG label such as
    /// `utf-8`, `windows-1252`, `iso-8859-1`). Files with a BOM follow the BOM.
    pub encoding: String,
    /// 1-based line of the header row; lines before it are skipped.
    pub header_line: u64,
    /// False for files without a header: columns are then `column_1`,
    /// `column_2`, ... (map them in `[fields]`).
    pub has_header: bool,
    pub decimal: DecimalStyle,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimestampSection {
    /// Extra `strftime` formats tried after the standard ones, read as UTC.
    pub extra_formats: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupSection {
    pub window_minutes: u64,
    /// Per source, the only fields the fingerprint covers (for producers
    /// that resend corrected rows). Absent: the whole normalised alert.
    pub fingerprint_fields: BTreeMap<Source, Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DestinationSpec {
    /// Slack: name of the secret (Secrets Manager or SSM) holding the webhook.
    pub webhook_secret: Option<String>,
    /// Slack, local runs: environment variable holding the webhook URL.
    pub webhook_env: Option<String>,
    /// E-mail: recipients.
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest JSON record or CSV row accepted; larger ones are rejected.
    pub max_record_bytes: usize,
    /// Largest single field value accepted.
    pub max_field_bytes: usize,
    /// Most fields in one record.
    pub max_fields: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverySection {
    /// Record what would be sent without sending.
    pub dry_run: bool,
    /// Attempts per destination before a delivery is marked failed.
    pub max_attempts: u32,
}

impl Default for ConfigFile {
    fn default() -> Self {
        let route = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let routing = BTreeMap::from([
            ("critical".into(), route(&["slack:compliance-critical", "email:compliance-leads"])),
            ("high".into(), route(&["slack:compliance-high", "email:compliance"])),
            ("medium".into(), route(&["slack:compliance-info"])),
            ("low".into(), route(&["email:archive"])),
            ("rejected".into(), route(&["email:compliance"])),
        ]);
        let slack = |channel: &str| DestinationSpec {
            webhook_secret: Some(channel.to_string()),
            webhook_env: Some(format!("TRIAGE_SLACK_{}", channel.replace('-', "_").to_uppercase())),
            addresses: Vec::new(),
        };
        let email = |address: &str| DestinationSpec {
            addresses: vec![address.to_string()],
            ..DestinationSpec::default()
        };
        let destinations = BTreeMap::from([
            ("slack:compliance-critical".into(), slack("compliance-critical")),
            ("slack:compliance-high".into(), slack("compliance-high")),
            ("slack:compliance-info".into(), slack("compliance-info")),
            ("email:compliance-leads".into(), email("compliance-leads@example.com")),
            ("email:compliance".into(), email("compliance@example.com")),
            ("email:archive".into(), email("compliance-archive@example.com")),
        ]);
        let sla = BTreeMap::from([
            (Severity::Critical, 15 * 60),
            (Severity::High, 60 * 60),
            (Severity::Medium, 4 * 60 * 60),
            (Severity::Low, 24 * 60 * 60),
        ]);
        ConfigFile {
            ingest: IngestSection::default(),
            csv: CsvSection::default(),
            timestamps: TimestampSection::default(),
            fields: BTreeMap::new(),
            dedup: DedupSection::default(),
            rules: classify::default_rules(),
            escalation: None,
            routing,
            destinations,
            sla,
            limits: Limits::default(),
            delivery: DeliverySection::default(),
        }
    }
}

impl Default for IngestSection {
    fn default() -> Self {
        IngestSection {
            csv_hint_from_score: None,
            required_json: vec!["message_id".into()],
            required_csv: vec!["txn_id".into()],
        }
    }
}

impl Default for CsvSection {
    fn default() -> Self {
        CsvSection {
            delimiter: "auto".into(),
            encoding: "utf-8".into(),
            header_line: 1,
            has_header: true,
            decimal: DecimalStyle::Auto,
        }
    }
}

impl Default for DedupSection {
    fn default() -> Self {
        DedupSection { window_minutes: 24 * 60, fingerprint_fields: BTreeMap::new() }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_record_bytes: 1 << 20, max_field_bytes: 256 << 10, max_fields: 512 }
    }
}

impl Default for DeliverySection {
    fn default() -> Self {
        DeliverySection { dry_run: true, max_attempts: 5 }
    }
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted key, e.g. `rules[2].when[0].at_least`.
    pub key: String,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: `{}`: {}", self.key, self.message),
            None => write!(f, "`{}`: {}", self.key, self.message),
        }
    }
}

/// Every problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_issues(.0))]
pub struct ConfigError(pub Vec<ConfigIssue>);

fn render_issues(issues: &[ConfigIssue]) -> String {
    issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// A validated config, compiled for use.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: ConfigFile,
    pub rules: RuleSet,
    pub routing: Routing,
    pub fields: FieldMap,
    pub delimiter: Option<u8>,
    pub encoding: &'static encoding_rs::Encoding,
    /// SHA-256 of the canonical JSON of the effective config: stamped on
    /// every audit record, unchanged by comments or key order.
    pub hash: String,
}

impl Default for Config {
    fn default() -> Self {
        // The built-in default is validated by a unit test.
        Config::from_file(ConfigFile::default(), "")
            .unwrap_or_else(|e| panic!("built-in config: {e}"))
    }
}

impl Config {
    /// Parses and validates a TOML document.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let (line, key) = match e.span() {
                Some(span) => locate(text, span.start),
                None => (None, String::new()),
            };
            ConfigError(vec![ConfigIssue { key, line, message: e.message().trim().to_string() }])
        })?;
        Config::from_file(file, text)
    }

    /// Validates a config; `text` (possibly empty) is only used to find lines.
    pub fn from_file(file: ConfigFile, text: &str) -> Result<Config, ConfigError> {
        let mut issues = Vec::new();
        let mut issue = |key: String, message: String| {
            let line = line_of_key(text, &key);
            issues.push(ConfigIssue { key, line, message });
        };
        let rules = classify::compile(&file.rules, file.escalation.as_ref(), &mut issue);
        let routing = Routing::compile(&file.routing, &file.destinations, &mut issue);
        let fields = FieldMap::new(&file.fields, &mut issue);
        let delimiter = match file.csv.delimiter.as_str() {
            "auto" => None,
            "\\t" | "tab" => Some(b'\t'),
            d if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
            d => {
                issue("csv.delimiter".into(), format!("{d:?} is not `auto` or one character"));
                None
            }
        };
        let encoding = encoding_rs::Encoding::for_label(file.csv.encoding.as_bytes());
        if encoding.is_none() {
            issue("csv.encoding".into(), format!("unknown encoding {:?}", file.csv.encoding));
        }
        if file.csv.header_line == 0 {
            issue("csv.header_line".into(), "lines count from 1".into());
        }
        if let Some(score) = file.ingest.csv_hint_from_score
            && !(0.0..=100.0).contains(&score)
        {
            issue("ingest.csv_hint_from_score".into(), format!("{score} is outside 0-100"));
        }
        if !(1..=MAX_WINDOW_MINUTES).contains(&file.dedup.window_minutes) {
            issue(
                "dedup.window_minutes".into(),
                format!("must be from 1 to {MAX_WINDOW_MINUTES} (ten years)"),
            );
        }
        for (source, fields) in &file.dedup.fingerprint_fields {
            if fields.is_empty() {
                issue(format!("dedup.fingerprint_fields.{source}"), "lists no field".into());
            }
        }
        if file.limits.max_record_bytes < 1024 {
            issue("limits.max_record_bytes".into(), "must be at least 1024".into());
        }
        if file.limits.max_field_bytes < 16 {
            issue("limits.max_field_bytes".into(), "must be at least 16".into());
        }
        if file.limits.max_fields == 0 {
            issue("limits.max_fields".into(), "must be at least 1".into());
        }
        if file.delivery.max_attempts == 0 {
            issue("delivery.max_attempts".into(), "must be at least 1".into());
        }
        if !issues.is_empty() {
            return Err(ConfigError(issues));
        }
        let hash = config_hash(&file);
        Ok(Config {
            rules,
            routing,
            fields,
            delimiter,
            encoding: encoding.unwrap_or(encoding_rs::UTF_8),
            hash,
            file,
        })
    }

    /// The effective config as TOML, defaults filled in.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.file).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    pub fn window_minutes(&self) -> u64 {
        self.file.dedup.window_minutes
    }

    pub fn sla_target(&self, severity: Severity) -> Option<u64> {
        self.file.sla.get(&severity).copied()
    }
}

fn config_hash(file: &ConfigFile) -> String {
    let canonical = serde_json::to_value(file)
        .ok()
        .and_then(|value| serde_json_canonicalizer::to_string(&value).ok())
        .unwrap_or_default();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// The line and `table.key` at a byte offset of a TOML document.
fn locate(text: &str, offset: usize) -> (Option<usize>, String) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').to_string());
    let this_line = text.lines().nth(line - 1).unwrap_or("");
    let key = this_line.split_once('=').map(|(k, _)| k.trim().trim_matches('"').to_string());
    let full = match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}"),
        (Some(t), None) => t,
        (None, Some(k)) => k,
        (None, None) => String::new(),
    };
    (Some(line), full)
}

/// Best-effort line of a dotted key (`rules[2].when[0]`, `routing.high`).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    if text.is_empty() {
        return None;
    }
    let (head, index) = match key.split_once('[') {
        Some((head, rest)) => (head, rest.split(']').next().and_then(|n| n.parse::<usize>().ok())),
        None => (key.split('.').next().unwrap_or(key), None),
    };
    let lines: Vec<&str> = text.lines().collect();
    if let Some(index) = index {
        let header = format!("[[{head}]]");
        return lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.trim() == header)
            .nth(index)
            .map(|(at, _)| at + 1);
    }
    let last = key.rsplit('.').next().unwrap_or(key);
    let section = key.rsplit_once('.').map(|(s, _)| s);
    let mut in_section = section.is_none();
    for (at, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let name = trimmed.trim_matches(|c| c == '[' || c == ']');
            in_section = section.is_some_and(|s| s == name || s.starts_with(&format!("{name}.")));
            if section == Some(name) && key.ends_with(name) {
                return Some(at + 1);
            }
            continue;
        }
        let line_key = trimmed.split_once('=').map(|(k, _)| k.trim().trim_matches('"'));
        if in_section && line_key == Some(last) {
            return Some(at + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_default_is_valid_and_stable() {
        let config = Config::default();
        assert_eq!(config.file.rules.len(), 7);
        assert_eq!(config.hash.len(), 64);
        let again = Config::from_toml("").expect("empty file is the default");
        assert_eq!(again.hash, config.hash);
        // Rendering the default and reading it back changes nothing.
        let round = Config::from_toml(&config.to_toml()).expect("rendered default parses");
        assert_eq!(round.hash, config.hash);
    }

    #[test]
    fn type_errors_name_line_and_key() {
        let text = "[dedup]\nwindow_minutes = \"soon\"\n";
        let err = Config::from_toml(text).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].line, Some(2));
        assert_eq!(err.0[0].key, "dedup.window_minutes");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::from_toml("[dedup]\nwindow = 5\n").unwrap_err();
        assert!(err.0[0].message.contains("unknown field `window`"), "{err}");
        assert_eq!(err.0[0].line, Some(2));
    }

    #[test]
    fn semantic_errors_are_all_reported() {
        let text = "[csv]\ndelimiter = \"ab\"\nencoding = \"klingon\"\n\n[ingest]\ncsv_hint_from_score = 120\n";
        let err = Config::from_toml(text).unwrap_err();
        let keys: Vec<_> = err.0.iter().map(|i| (i.key.as_str(), i.line)).collect();
        assert_eq!(
            keys,
            [
                ("csv.delimiter", Some(2)),
                ("csv.encoding", Some(3)),
                ("ingest.csv_hint_from_score", Some(6))
            ]
        );
    }
}
