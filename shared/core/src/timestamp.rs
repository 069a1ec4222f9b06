//! Timestamps in the forms SPEC accepts, converted to UTC; nothing is guessed.
//!
//! Accepted: ISO 8601 / RFC 3339 with `Z` or an offset; ISO 8601 without a
//! zone (taken as UTC), with `T` or a space, optionally date only; RFC 2822
//! (e-mail `Date`); epoch milliseconds (13 digits, as Gmail's `internalDate`);
//! and any extra `strftime` formats the config lists (read as UTC).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Formats tried, in order, for a timestamp that carries an offset.
const ZONED: &[&str] =
    &["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%:z"];

/// Formats tried for a timestamp without a zone: read as UTC.
const NAIVE: &[&str] = &["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"];

/// Parses `text` as a timestamp. `extra` are additional `strftime` formats.
pub fn parse(text: &str, extra: &[String]) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(moment) = parse_epoch_millis(text) {
        return Some(moment);
    }
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment.with_timezone(&Utc));
    }
    for format in ZONED {
        if let Ok(moment) = DateTime::parse_from_str(text, format) {
            return Some(moment.with_timezone(&Utc));
        }
    }
    for format in NAIVE {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|naive| Utc.from_utc_datetime(&naive));
    }
    if let Some(moment) = parse_rfc2822(text) {
        return Some(moment);
    }
    extra.iter().find_map(|format| parse_custom(text, format))
}

/// Epoch milliseconds: exactly 13 digits (years 2001 to 2286). Shorter digit
/// strings such as `20170218` are dates in other notations, not epochs.
fn parse_epoch_millis(text: &str) -> Option<DateTime<Utc>> {
    if text.len() != 13 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: i64 = text.parse().ok()?;
    Utc.timestamp_millis_opt(millis).single()
}

/// RFC 2822, tolerating a trailing comment such as `(UTC)` that mail
/// software appends.
fn parse_rfc2822(text: &str) -> Option<DateTime<Utc>> {
    let trimmed = match text.rfind('(') {
        Some(at) if text.ends_with(')') => text[..at].trim_end(),
        _ => text,
    };
    DateTime::parse_from_rfc2822(trimmed).ok().map(|moment| moment.with_timezone(&Utc))
}

fn parse_custom(text: &str, format: &str) -> Option<DateTime<Utc>> {
    if let Ok(moment) = DateTime::parse_from_str(text, format) {
        return Some(moment.with_timezone(&Utc));
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
        return Some(Utc.from_utc_datetime(&naive));
    }
    NaiveDate::parse_from_str(text, format)
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| Utc.from_utc_datetime(&naive))
}

/// The canonical form stored and fingerprinted: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format(moment: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    // Written field by field: chrono's strftime re-parses its pattern on
    // every call, which shows up when millions of records are stamped.
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        moment.year(),
        moment.month(),
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> Option<String> {
        parse(text, &[]).map(format)
    }

    #[test]
    fn offsets_convert_to_utc() {
        assert_eq!(canon("2024-12-12T17:00:00+05:00").as_deref(), Some("2024-12-12T12:00:00Z"));
        assert_eq!(canon("2024-12-12T12:00:00Z").as_deref(), Some("2024-12-12T12:00:00Z"));
        assert_eq!(canon("2024-12-12T07:00:00-0500").as_deref(), Some("2024-12-12T12:00:00Z"));
        assert_eq!(canon("2024-12-12t12:00:00.250z").as_deref(), Some("2024-12-12T12:00:00Z"));
    }

    #[test]
    fn naive_is_utc() {
        assert_eq!(canon("2024-12-12T12:00:00").as_deref(), Some("2024-12-12T12:00:00Z"));
        assert_eq!(canon("2024-12-12 12:00:00").as_deref(), Some("2024-12-12T12:00:00Z"));
        assert_eq!(canon("2020-03-07").as_deref(), Some("2020-03-07T00:00:00Z"));
    }

    #[test]
    fn rfc2822_and_epoch_millis() {
        assert_eq!(
            canon("Tue, 10 Dec 2024 09:15:00 -0500").as_deref(),
            Some("2024-12-10T14:15:00Z")
        );
        assert_eq!(
            canon("Thu, 5 Mar 2015 13:01:00 +0000 (UTC)").as_deref(),
            Some("2015-03-05T13:01:00Z")
        );
        assert_eq!(canon("1425560460000").as_deref(), Some("2015-03-05T13:01:00Z"));
    }

    #[test]
    fn rejects_what_it_would_have_to_guess() {
        for text in
            ["yesterday", "04.11.20", "20170218", "2/8/15", "", "2024-13-01T00:00:00Z", "12"]
        {
            assert_eq!(canon(text), None, "{text:?} must not parse");
        }
    }

    #[test]
    fn extra_formats_from_config() {
        let extra = vec!["%d.%m.%y".to_string(), "%d/%m/%Y %H:%M".to_string()];
        assert_eq!(parse("04.11.20", &extra).map(format).as_deref(), Some("2020-11-04T00:00:00Z"));
        assert_eq!(
            parse("24/03/2022 10:30", &extra).map(format).as_deref(),
            Some("2022-03-24T10:30:00Z")
        );
    }
}
