//! Gmail API message resources (`users.messages.get`, format `full` or
//! `metadata`, and the `users.drafts.get` wrapper) as alert fields: subject,
//! sender and date from the headers, the body from the `text/plain` part.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

/// Gmail's base64url, with or without `=` padding.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// True for a message resource or a draft wrapping one.
pub fn is_gmail_message(map: &Map<String, Value>) -> bool {
    let has_headers = |m: &Map<String, Value>| {
        m.get("payload").and_then(|p| p.get("headers")).is_some_and(Value::is_array)
    };
    has_headers(map) || map.get("message").and_then(Value::as_object).is_some_and(has_headers)
}

/// The alert fields of a message, under canonical names.
pub(super) fn fields(map: &Map<String, Value>) -> Result<Vec<(String, Value)>, String> {
    let message = match map.get("message").and_then(Value::as_object) {
        Some(inner) if !map.contains_key("payload") => inner,
        _ => map,
    };
    let payload =
        message.get("payload").and_then(Value::as_object).ok_or("message has no `payload`")?;
    let header = |name: &str| {
        payload.get("headers").and_then(Value::as_array).and_then(|headers| {
            headers.iter().find_map(|h| {
                let key = h.get("name")?.as_str()?;
                key.eq_ignore_ascii_case(name).then(|| h.get("value")?.as_str()).flatten()
            })
        })
    };
    let text = |s: &str| Value::String(s.to_string());

    let mut fields = Vec::new();
    let id = message.get("id").and_then(Value::as_str).ok_or("message has no `id`")?;
    fields.push(("message_id".to_string(), text(id)));
    if let Some(from) = header("From") {
        fields.push(("vendor".into(), text(from)));
    }
    if let Some(subject) = header("Subject") {
        fields.push(("subject".into(), text(subject)));
    }
    let body = match plain_text(payload)? {
        Some(body) => Some(body),
        None => message.get("snippet").and_then(Value::as_str).map(str::to_string),
    };
    if let Some(body) = body {
        fields.push(("body".into(), Value::String(body)));
    }
    let created = header("Date")
        .map(str::to_string)
        .or_else(|| message.get("internalDate").and_then(epoch_text));
    if let Some(created) = created {
        fields.push(("created_at".into(), Value::String(created)));
    }
    if let Some(thread) = message.get("threadId").and_then(Value::as_str) {
        fields.push(("thread_id".into(), text(thread)));
    }
    if let Some(labels) = message.get("labelIds").filter(|l| l.is_array()) {
        fields.push(("label_ids".into(), labels.clone()));
    }
    Ok(fields)
}

fn epoch_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first `text/plain` part with inline data, depth first, decoded.
fn plain_text(part: &Map<String, Value>) -> Result<Option<String>, String> {
    let mime = part.get("mimeType").and_then(Value::as_str).unwrap_or("");
    let data = part.get("body").and_then(|b| b.get("data")).and_then(Value::as_str);
    if mime.eq_ignore_ascii_case("text/plain")
        && let Some(data) = data
    {
        let bytes = BASE64URL
            .decode(data.trim())
            .map_err(|e| format!("`text/plain` body is not base64url: {e}"))?;
        return String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| "`text/plain` body is not UTF-8".to_string());
    }
    for child in part.get("parts").and_then(Value::as_array).into_iter().flatten() {
        if let Some(child) = child.as_object()
            && let Some(text) = plain_text(child)?
        {
            return Ok(Some(text));
        }
    }
    Ok(None)
}
