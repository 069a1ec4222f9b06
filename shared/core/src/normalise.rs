//! One raw record to one normalised alert: canonical field names, trimmed and
//! cased values, numbers as numbers, amounts exact, timestamps in UTC. A
//! record that cannot be normalised is rejected with the field and reason.

use serde_json::{Map, Number, Value};

use crate::config::Config;
use crate::model::{Alert, Origin, Rejected, Severity, Source};
use crate::number::{self, shorten};
use crate::timestamp;

/// A record as read from a drop, before normalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    pub source: Source,
    pub origin: Origin,
    /// Fields in the order read. Names are the producer's unless `mapped`.
    pub fields: Vec<(String, Value)>,
    /// True when the names are already canonical (CSV headers are mapped
    /// once per file).
    pub mapped: bool,
    /// The record's text as read, kept for the audit if it is rejected.
    pub raw: String,
}

/// How a field is normalised.
enum Kind {
    /// Trimmed text.
    Id,
    /// Text kept exactly.
    Text,
    /// Trimmed, upper-case; empty means absent.
    Code,
    Hint,
    Score,
    Amount,
    Timestamp,
}

fn kind_of(field: &str) -> Option<Kind> {
    Some(match field {
        "message_id" | "vendor" | "txn_id" | "customer_id" | "txn_type" => Kind::Id,
        "subject" | "body" | "description" => Kind::Text,
        "country" | "currency" => Kind::Code,
        "severity_hint" => Kind::Hint,
        "risk_score" => Kind::Score,
        "amount" => Kind::Amount,
        "created_at" => Kind::Timestamp,
        _ => return None,
    })
}

/// Normalises `raw` under `config`.
pub fn normalise(raw: RawRecord, config: &Config) -> Result<Alert, Rejected> {
    let RawRecord { source, origin, fields, mapped, raw } = raw;
    let reject = |field: Option<&str>, reason: String| {
        let rejected = Rejected::new(source, origin.clone(), reason).raw(raw.clone());
        match field {
            Some(field) => rejected.field(field),
            None => rejected,
        }
    };
    let limits = &config.file.limits;
    if fields.len() > limits.max_fields {
        return Err(reject(
            None,
            format!("{} fields, more than the limit of {}", fields.len(), limits.max_fields),
        ));
    }

    let mut payload = Map::new();
    let mut spelled: Vec<(String, String)> = Vec::new();
    let mut created_at = None;
    let mut risk_score = None;
    let mut hint = None;
    for (name, value) in fields {
        let field = if mapped { name.clone() } else { config.fields.canonical(source, &name) };
        if let Some((_, first)) = spelled.iter().find(|(f, _)| *f == field) {
            let reason = if *first == name {
                format!("field {name:?} appears twice")
            } else {
                format!("fields {first:?} and {name:?} both mean `{field}`")
            };
            return Err(reject(Some(&field), reason));
        }
        spelled.push((field.clone(), name));
        if let Value::String(text) = &value
            && text.len() > limits.max_field_bytes
        {
            return Err(reject(Some(&field), format!("{} bytes, more than the limit", text.len())));
        }
        let Some(kind) = kind_of(&field) else {
            payload.insert(field, value);
            continue;
        };
        let text = match text_of(&value) {
            Ok(text) => text,
            Err(found) => {
                return Err(reject(Some(&field), format!("expected text, found {found}")));
            }
        };
        let normalised = match kind {
            Kind::Id => text.map(|t| Value::String(t.trim().to_string())),
            Kind::Text => text.map(Value::String),
            Kind::Code => {
                text.map(|t| t.trim().to_uppercase()).filter(|t| !t.is_empty()).map(Value::String)
            }
            Kind::Hint => {
                let lowered = text.map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty());
                hint = lowered.as_deref().and_then(Severity::from_hint);
                lowered.map(Value::String)
            }
            Kind::Score => {
                let score =
                    number::risk_score(Some(&value)).map_err(|e| reject(Some(&field), e))?;
                risk_score = Some(score);
                Number::from_f64(score).map(Value::Number)
            }
            Kind::Amount => match text.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(_) => Some(Value::String(
                    number::amount(&value, config.file.csv.decimal)
                        .map_err(|e| reject(Some(&field), e))?,
                )),
            },
            Kind::Timestamp => match text.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(t) => {
                    let moment = timestamp::parse(t, &config.file.timestamps.extra_formats)
                        .ok_or_else(|| {
                            reject(
                                Some(&field),
                                format!(
                            "{:?} is not a supported timestamp (ISO 8601, RFC 2822, epoch milliseconds \
                             or [timestamps] extra_formats)",
                            shorten(t)
                        ),
                            )
                        })?;
                    created_at = Some(moment);
                    Some(Value::String(timestamp::format(moment)))
                }
            },
        };
        if let Some(value) = normalised {
            payload.insert(field, value);
        }
    }
    if risk_score.is_none() {
        payload.insert("risk_score".into(), Value::Number(Number::from(0)));
    }
    let required = match source {
        Source::Gmail => &config.file.ingest.required_json,
        Source::Csv => &config.file.ingest.required_csv,
    };
    for field in required {
        let present = match payload.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::String(text)) => !text.trim().is_empty(),
            Some(_) => true,
        };
        if !present {
            return Err(reject(Some(field), "required field is missing or empty".into()));
        }
    }
    // A fingerprint narrowed to fields the alert lacks would make unlike
    // alerts duplicates of each other.
    if let Some(chosen) = config.file.dedup.fingerprint_fields.get(&source)
        && let Some(field) = chosen.iter().find(|f| !payload.contains_key(f.as_str()))
    {
        return Err(reject(
            Some(field),
            "fingerprint field (see [dedup] fingerprint_fields) is missing".into(),
        ));
    }
    Ok(Alert { source, origin, payload, created_at, risk_score: risk_score.unwrap_or(0.0), hint })
}

/// Text of a scalar (numbers as written); `None` for null; the kind of value
/// otherwise.
fn text_of(value: &Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        Value::Number(number) => Ok(Some(number.to_string())),
        Value::Bool(_) => Err("a boolean"),
        Value::Array(_) => Err("an array"),
        Value::Object(_) => Err("an object"),
    }
}

#[cfg(test)]
mod tests;
