//! Severity by ordered rules, first match wins, plus the optional after-hours
//! escalation. Each decision names the rule that made it, for the audit.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Alert, Severity};
use crate::number::plain_number;

/// A rule as written in the config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    /// `critical`, `high`, `medium`, `low`, or `hint` (take the alert's hint).
    pub severity: String,
    /// Conditions that must all hold; none means the rule always matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<ConditionSpec>,
}

/// One condition: `words` + `in`, or `field` with bounds, or `field` + `one_of`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConditionSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<Vec<String>>,
    #[serde(rename = "in", skip_serializing_if = "Option::is_none")]
    pub in_fields: Option<Vec<String>>,
    /// Match whole words only (default: substring).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whole_word: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_most: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
}

/// Raise one severity to another when triaged outside business hours.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationSpec {
    /// Rule name recorded in the audit when the escalation applies.
    pub name: String,
    pub from: Severity,
    pub to: Severity,
    /// IANA time zone of the business hours, e.g. `Europe/London`.
    pub timezone: String,
    /// `HH:MM`, inclusive.
    pub start: String,
    /// `HH:MM`, exclusive.
    pub end: String,
    /// Business days: `mon` .. `sun`.
    pub weekdays: Vec<String>,
}

impl Default for EscalationSpec {
    fn default() -> Self {
        EscalationSpec {
            name: "after-hours-escalation".into(),
            from: Severity::High,
            to: Severity::Critical,
            timezone: "UTC".into(),
            start: "09:00".into(),
            end: "17:00".into(),
            weekdays: ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec(),
        }
    }
}

/// SPEC's seven default rules.
pub fn default_rules() -> Vec<RuleSpec> {
    let rule = |name: &str, severity: &str, when: Vec<ConditionSpec>| RuleSpec {
        name: name.into(),
        severity: severity.into(),
        when,
    };
    let score = |at_least: f64| ConditionSpec {
        field: Some("risk_score".into()),
        at_least: Some(at_least),
        ..ConditionSpec::default()
    };
    let sanction = ConditionSpec {
        words: Some(vec!["sanction".into()]),
        in_fields: Some(vec!["subject".into(), "body".into(), "description".into()]),
        ..ConditionSpec::default()
    };
    let country = ConditionSpec {
        field: Some("country".into()),
        one_of: Some(["IR", "RU", "NG", "PA", "KY", "AF", "SY"].map(String::from).to_vec()),
        ..ConditionSpec::default()
    };
    vec![
        rule("severity-hint", "hint", vec![]),
        rule("sanction-keyword", "critical", vec![sanction]),
        rule("risk-critical", "critical", vec![score(90.0)]),
        rule("risk-high", "high", vec![score(75.0)]),
        rule("high-risk-country", "high", vec![country]),
        rule("risk-medium", "medium", vec![score(40.0)]),
        rule("default-low", "low", vec![]),
    ]
}

#[derive(Debug, Clone)]
enum Outcome {
    Fixed(Severity),
    Hint,
}

#[derive(Debug, Clone)]
enum Condition {
    Words { words: Vec<String>, fields: Vec<String>, whole_word: bool },
    Range { field: String, low: Option<(f64, bool)>, high: Option<(f64, bool)> },
    OneOf { field: String, values: BTreeSet<String> },
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    outcome: Outcome,
    when: Vec<Condition>,
}

#[derive(Debug, Clone)]
struct Escalation {
    name: String,
    from: Severity,
    to: Severity,
    zone: Tz,
    start: NaiveTime,
    end: NaiveTime,
    /// Business days, indexed from Monday.
    weekdays: [bool; 7],
}

/// The compiled rules.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    escalation: Option<Escalation>,
}

/// Compiles rule specs, reporting each problem through `issue(key, message)`.
pub(crate) fn compile(
    specs: &[RuleSpec],
    escalation: Option<&EscalationSpec>,
    issue: &mut dyn FnMut(String, String),
) -> RuleSet {
    let mut rules = Vec::with_capacity(specs.len());
    for (at, spec) in specs.iter().enumerate() {
        let key = format!("rules[{at}]");
        let outcome = match spec.severity.as_str() {
            "hint" => Outcome::Hint,
            other => match Severity::from_hint(other) {
                Some(severity) if other == severity.as_str() => Outcome::Fixed(severity),
                _ => {
                    issue(
                        key.clone(),
                        format!("severity {other:?} is not critical, high, medium, low or hint"),
                    );
                    continue;
                }
            },
        };
        if spec.name.trim().is_empty() {
            issue(key.clone(), "a rule needs a name".into());
        } else if specs[..at].iter().any(|earlier| earlier.name == spec.name) {
            issue(
                key.clone(),
                format!(
                    "rule name {:?} is used twice; the audit could not tell them apart",
                    spec.name
                ),
            );
        }
        let when = spec
            .when
            .iter()
            .enumerate()
            .filter_map(|(n, c)| {
                compile_condition(c).map_err(|m| issue(format!("{key}.when[{n}]"), m)).ok()
            })
            .collect();
        rules.push(Rule { name: spec.name.clone(), outcome, when });
    }
    match rules.last() {
        Some(Rule { outcome: Outcome::Fixed(_), when, .. }) if when.is_empty() => {}
        _ => issue(
            format!("rules[{}]", specs.len().saturating_sub(1)),
            "the last rule must have a fixed severity and no `when`, so every alert gets one"
                .into(),
        ),
    }
    let escalation = escalation.and_then(|spec| compile_escalation(spec, issue));
    RuleSet { rules, escalation }
}

fn compile_condition(spec: &ConditionSpec) -> Result<Condition, String> {
    let bounds = [spec.at_least, spec.above, spec.at_most, spec.below];
    let has_bounds = bounds.iter().any(Option::is_some);
    match (&spec.words, &spec.field, &spec.one_of) {
        (Some(words), None, None) if !has_bounds => {
            let fields = spec.in_fields.clone().unwrap_or_default();
            if words.iter().any(|w| w.trim().is_empty()) || words.is_empty() {
                return Err("`words` needs at least one non-empty word".into());
            }
            if fields.is_empty() {
                return Err("`words` needs `in = [fields...]`".into());
            }
            let words = words.iter().map(|w| w.to_lowercase()).collect();
            Ok(Condition::Words { words, fields, whole_word: spec.whole_word.unwrap_or(false) })
        }
        (None, Some(field), None) if has_bounds && spec.in_fields.is_none() => {
            if bounds.iter().flatten().any(|b| !b.is_finite()) {
                return Err("bounds must be finite numbers".into());
            }
            if spec.at_least.is_some() && spec.above.is_some()
                || spec.at_most.is_some() && spec.below.is_some()
            {
                return Err("give at most one lower bound and one upper bound".into());
            }
            let low = spec.at_least.map(|b| (b, true)).or(spec.above.map(|b| (b, false)));
            let high = spec.at_most.map(|b| (b, true)).or(spec.below.map(|b| (b, false)));
            Ok(Condition::Range { field: field.clone(), low, high })
        }
        (None, Some(field), Some(values)) if !has_bounds && spec.in_fields.is_none() => {
            let values = values.iter().map(|v| v.trim().to_uppercase()).collect();
            Ok(Condition::OneOf { field: field.clone(), values })
        }
        _ => Err("a condition is one of: `words` + `in`; `field` + at_least/above/at_most/below; \
                  `field` + `one_of`"
            .into()),
    }
}

fn compile_escalation(
    spec: &EscalationSpec,
    issue: &mut dyn FnMut(String, String),
) -> Option<Escalation> {
    let zone = spec.timezone.parse::<Tz>().map_err(|_| {
        issue("escalation.timezone".into(), format!("unknown time zone {:?}", spec.timezone));
    });
    let time = |key: &str, text: &str, issue: &mut dyn FnMut(String, String)| {
        NaiveTime::parse_from_str(text, "%H:%M")
            .map_err(|_| issue(format!("escalation.{key}"), format!("{text:?} is not HH:MM")))
    };
    let start = time("start", &spec.start, issue);
    let end = time("end", &spec.end, issue);
    let mut weekdays = [false; 7];
    for day in &spec.weekdays {
        match day.parse::<Weekday>() {
            Ok(weekday) => weekdays[weekday.num_days_from_monday() as usize] = true,
            Err(_) => issue("escalation.weekdays".into(), format!("{day:?} is not a weekday")),
        }
    }
    Some(Escalation {
        name: spec.name.clone(),
        from: spec.from,
        to: spec.to,
        zone: zone.ok()?,
        start: start.ok()?,
        end: end.ok()?,
        weekdays,
    })
}

impl RuleSet {
    /// Severity of `alert` and the rule that decided it. `hint` is the hint
    /// in force (the alert's own, or one the engine derived); `now` is the
    /// triage time, for the escalation.
    pub fn classify(
        &self,
        alert: &Alert,
        hint: Option<Severity>,
        now: DateTime<Utc>,
    ) -> Decision<'_> {
        let decision = self
            .rules
            .iter()
            .find_map(|rule| {
                let (severity, by_hint) = match rule.outcome {
                    Outcome::Fixed(severity) => (severity, false),
                    Outcome::Hint => (hint?, true),
                };
                rule.when.iter().all(|c| c.holds(alert)).then_some(Decision {
                    severity,
                    rule: rule.name.as_str(),
                    by_hint,
                })
            })
            .unwrap_or(Decision {
                severity: Severity::Low,
                rule: "no-rule-matched",
                by_hint: false,
            });
        match &self.escalation {
            Some(e) if e.from == decision.severity && !e.in_business_hours(now) => {
                Decision { severity: e.to, rule: e.name.as_str(), by_hint: false }
            }
            _ => decision,
        }
    }
}

/// A classification and the rule behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'a> {
    pub severity: Severity,
    pub rule: &'a str,
    /// True when a `hint` rule decided.
    pub by_hint: bool,
}

impl Condition {
    fn holds(&self, alert: &Alert) -> bool {
        match self {
            Condition::Words { words, fields, whole_word } => fields.iter().any(|field| {
                alert.text(field).is_some_and(|text| {
                    let text = text.to_lowercase();
                    words.iter().any(|word| contains_word(&text, word, *whole_word))
                })
            }),
            Condition::Range { field, low, high } => number_of(alert, field).is_some_and(|value| {
                low.is_none_or(|(b, inclusive)| if inclusive { value >= b } else { value > b })
                    && high
                        .is_none_or(|(b, inclusive)| if inclusive { value <= b } else { value < b })
            }),
            Condition::OneOf { field, values } => {
                let text = match field.as_str() {
                    "source" => Some(alert.source.as_str()),
                    _ => alert.text(field),
                };
                text.is_some_and(|t| values.contains(&t.trim().to_uppercase()))
            }
        }
    }
}

fn number_of(alert: &Alert, field: &str) -> Option<f64> {
    if field == "risk_score" {
        return Some(alert.risk_score);
    }
    match alert.payload.get(field)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => plain_number(s.trim()),
        _ => None,
    }
}

/// `word` in `text` (both lower-case), optionally only between non-word characters.
fn contains_word(text: &str, word: &str, whole_word: bool) -> bool {
    if !whole_word {
        return text.contains(word);
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

impl Escalation {
    fn in_business_hours(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.zone);
        let time = NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second())
            .unwrap_or_default();
        self.weekdays[local.weekday().num_days_from_monday() as usize]
            && time >= self.start
            && time < self.end
    }
}

#[cfg(test)]
mod tests;
