//! What a person is sent about an alert: a short title and a few labelled
//! lines, built from the audit record, and rendered safely for Slack (no
//! pings, no forged links) and e-mail (no header injection).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::audit::AuditRecord;
use crate::model::Severity;

/// Longest subject or title sent.
const TITLE_CHARS: usize = 150;
/// Longest value of one line.
const VALUE_CHARS: usize = 300;

/// One delivery's content, also the body of a queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Fingerprint, or `None` for a rejected alert.
    pub alert_hash: Option<String>,
    /// SHA-256 of the audit payload: with `destination`, the delivery's key.
    pub payload_sha256: String,
    pub destination: String,
    pub severity: Option<Severity>,
    pub rule: String,
    pub origin: String,
    pub run_id: String,
    pub title: String,
    /// Labelled facts, in display order.
    pub lines: Vec<(String, String)>,
}

/// Fields shown, with their labels, when the alert has them.
const SHOWN: &[(&str, &str)] = &[
    ("vendor", "Vendor"),
    ("customer_id", "Customer"),
    ("amount", "Amount"),
    ("currency", "Currency"),
    ("country", "Country"),
    ("txn_type", "Type"),
    ("risk_score", "Risk score"),
    ("created_at", "Created"),
];

impl Notice {
    /// The notice for `record` sent to `destination`.
    pub fn new(record: &AuditRecord, destination: &str) -> Notice {
        let payload: Map<String, Value> = serde_json::from_str(&record.payload).unwrap_or_default();
        let text = |key: &str| match payload.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let label = record.severity.map_or("REJECTED".to_string(), |s| s.as_str().to_uppercase());
        // A rejection has no fields to name it by; where it came from does.
        let what = text("subject")
            .or_else(|| text("txn_id").map(|id| format!("Transaction {id}")))
            .or_else(|| text("message_id").map(|id| format!("Message {id}")))
            .unwrap_or_else(|| match record.severity {
                None => format!("record at {}", record.origin),
                Some(_) => "alert".into(),
            });
        let mut lines: Vec<(String, String)> = SHOWN
            .iter()
            .filter_map(|(key, name)| Some(((*name).to_string(), text(key)?)))
            .collect();
        lines.push(("Rule".into(), record.rule.clone()));
        if let Some(reason) = &record.reason {
            lines.push(("Reason".into(), reason.clone()));
        }
        lines.push(("Origin".into(), record.origin.clone()));
        Notice {
            alert_hash: record.alert_hash.clone(),
            payload_sha256: record.payload_sha256.clone(),
            destination: destination.to_string(),
            severity: record.severity,
            rule: record.rule.clone(),
            origin: record.origin.clone(),
            run_id: record.run_id.clone(),
            title: format!("[{label}] {what}"),
            lines,
        }
    }

    /// Slack message text (mrkdwn) with all alert content escaped.
    pub fn slack_text(&self) -> String {
        let mut text = format!("*{}*", slack_escape(&clip(&self.title, TITLE_CHARS)));
        for (name, value) in &self.lines {
            text.push_str(&format!("\n{}: {}", name, slack_escape(&clip(value, VALUE_CHARS))));
        }
        text
    }

    /// E-mail subject: one line, no control characters.
    pub fn email_subject(&self) -> String {
        let flat: String =
            self.title.chars().map(|c| if breaks_layout(c) { ' ' } else { c }).collect();
        clip(flat.split_whitespace().collect::<Vec<_>>().join(" ").as_str(), TITLE_CHARS)
    }

    /// Plain-text e-mail body.
    pub fn email_body(&self) -> String {
        let mut body = format!("{}\n\n", self.email_subject());
        for (name, value) in &self.lines {
            let flat: String =
                value.chars().map(|c| if breaks_layout(c) { ' ' } else { c }).collect();
            body.push_str(&format!("{name}: {}\n", clip(&flat, VALUE_CHARS)));
        }
        body.push_str(&format!(
            "\nFingerprint: {}\nRun: {}\n",
            self.alert_hash.as_deref().unwrap_or("none"),
            self.run_id
        ));
        body
    }
}

/// Escapes Slack's control characters so alert text cannot form links,
/// mentions or `<!channel>`-style pings, breaks bare `@channel`, `@here` and
/// `@everyone` with a word joiner, and flattens every value to one line
/// (no line breaks, no bidirectional overrides) so it cannot pose as
/// another line of the message.
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push_str("@\u{2060}"),
            c if breaks_layout(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Control characters, line and paragraph separators, and the invisible
/// marks that reorder text.
fn breaks_layout(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn clip(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_text_cannot_ping_or_link() {
        let escaped = slack_escape("<!channel> hi @here <https://evil.example|bank> & <@U123>");
        assert_eq!(
            escaped,
            "&lt;!channel&gt; hi @\u{2060}here &lt;https://evil.example|bank&gt; &amp; &lt;@\u{2060}U123&gt;"
        );
        assert!(!escaped.contains('<') && !escaped.contains('>'));
    }

    #[test]
    fn values_cannot_pose_as_other_lines() {
        let escaped = slack_escape("Routine\nRisk score: 5\r\nRule: x\u{2028}y \u{202e}txe");
        assert_eq!(escaped, "Routine Risk score: 5  Rule: x y  txe");
    }
}
