//! Numbers as producers write them: risk scores (strict) and amounts (any of
//! the bank notations in the corpus, kept exact as a decimal string).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How to read the separators in an amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecimalStyle {
    /// `.` decimal point unless the text says otherwise (`1.234,56`).
    #[default]
    Auto,
    /// `1,234.56`
    Dot,
    /// `1.234,56`
    Comma,
}

/// Reads a risk score: a JSON number or numeric string in 0..=100; missing or
/// empty is 0. Returns the reason when the value is not acceptable.
pub fn risk_score(value: Option<&Value>) -> Result<f64, String> {
    let score = match value {
        None | Some(Value::Null) => return Ok(0.0),
        Some(Value::Number(number)) => number.as_f64().ok_or("not a finite number")?,
        Some(Value::String(text)) if text.trim().is_empty() => return Ok(0.0),
        Some(Value::String(text)) => plain_number(text.trim())
            .ok_or_else(|| format!("{:?} is not a number", shorten(text)))?,
        Some(other) => return Err(format!("expected a number, found {}", kind(other))),
    };
    if !score.is_finite() {
        return Err("not a finite number".into());
    }
    if !(0.0..=100.0).contains(&score) {
        return Err(format!("{score} is outside 0-100"));
    }
    Ok(score)
}

/// A plain decimal number: optional sign, digits with at most one `.`, an
/// optional exponent. Rejects `NaN`, `inf` and anything Rust would accept
/// beyond that grammar.
pub fn plain_number(text: &str) -> Option<f64> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).count();
    let dots = mantissa.bytes().filter(|b| *b == b'.').count();
    if digits == 0 || dots > 1 || digits + dots != mantissa.len() {
        return None;
    }
    if let Some(exponent) = exponent {
        let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        if exponent.is_empty() || !exponent.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    text.parse().ok()
}

/// Largest exponent an amount may carry (`1e400`); the expansion is bounded.
const MAX_EXPONENT: i64 = 400;

/// Normalises an amount to an exact decimal string: `1.234,56` -> `1234.56`,
/// `980.00` -> `980`, `-123,45 €` -> `-123.45`, `11'373.94` -> `11373.94`.
pub fn exact_decimal(text: &str, style: DecimalStyle) -> Result<String, String> {
    let trimmed = strip_currency(text);
    let (negative, unsigned) = split_sign(trimmed);
    let mut cleaned = String::with_capacity(unsigned.len());
    for c in unsigned.chars() {
        match c {
            '0'..='9' | '.' | ',' | 'e' | 'E' | '+' | '-' => cleaned.push(c),
            '\'' | '\u{2019}' | ' ' | '\u{a0}' | '\u{202f}' | '_' => {}
            _ => return Err(format!("{:?} is not an amount", shorten(text))),
        }
    }
    let decimal = decimal_separator(&cleaned, style);
    if !thousands_groups_are_sound(&cleaned, decimal) {
        return Err(format!("{:?} is not an amount", shorten(text)));
    }
    let mut plain = String::with_capacity(cleaned.len());
    for c in cleaned.chars() {
        match c {
            '.' | ',' if Some(c) == decimal => plain.push('.'),
            '.' | ',' => {}
            _ => plain.push(c),
        }
    }
    if plain_number(&plain).is_none() || plain.starts_with(['+', '-']) {
        return Err(format!("{:?} is not an amount", shorten(text)));
    }
    // An exponent beyond what `canonical_decimal` expands would be misread.
    if let Some(at) = plain.find(['e', 'E'])
        && !plain[at + 1..].parse::<i64>().is_ok_and(|e| e.abs() <= MAX_EXPONENT)
    {
        return Err(format!("{:?} is not an amount: exponent out of range", shorten(text)));
    }
    Ok(canonical_decimal(negative, &plain))
}

/// Amount of a JSON value: numbers keep their decimal digits, strings are read
/// as [`exact_decimal`].
pub fn amount(value: &Value, style: DecimalStyle) -> Result<String, String> {
    match value {
        Value::Number(number) => exact_decimal(&number.to_string(), DecimalStyle::Dot),
        Value::String(text) => exact_decimal(text, style),
        other => Err(format!("expected an amount, found {}", kind(other))),
    }
}

fn is_currency_mark(c: char) -> bool {
    matches!(c, '€' | '$' | '£' | '¥' | '₣' | '₹' | '₽')
}

/// Strips blanks, currency symbols and one three-letter code at either end
/// (`USD 12.00`, `12.00EUR`, `-123,45 €`). Other letters stay, so `2.5M`,
/// `5 million` or `12 apples` are not read as 2.5, 5 or 12.
fn strip_currency(text: &str) -> &str {
    let blank = |c: char| c.is_whitespace() || is_currency_mark(c);
    let is_code = |code: &[u8]| code.len() == 3 && code.iter().all(u8::is_ascii_alphabetic);
    let mut text = text.trim_matches(blank);
    let bytes = text.as_bytes();
    if bytes.len() > 3 && is_code(&bytes[..3]) && !bytes[3].is_ascii_alphabetic() {
        text = &text[3..];
    }
    let bytes = text.as_bytes();
    let len = bytes.len();
    if len > 3 && is_code(&bytes[len - 3..]) && !bytes[len - 4].is_ascii_alphabetic() {
        text = &text[..len - 3];
    }
    text.trim_matches(blank)
}

/// Leading `-`/`+`, trailing `-` (some bank exports) or accounting brackets.
fn split_sign(text: &str) -> (bool, &str) {
    if let Some(rest) = text.strip_prefix('-') {
        (true, rest.trim_start())
    } else if let Some(rest) = text.strip_prefix('+') {
        (false, rest.trim_start())
    } else if let Some(rest) = text.strip_suffix('-') {
        (true, rest.trim_end())
    } else if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        (true, inner.trim())
    } else {
        (false, text)
    }
}

/// Which of `.` and `,` is the decimal separator, if any.
fn decimal_separator(text: &str, style: DecimalStyle) -> Option<char> {
    let dots = text.matches('.').count();
    let commas = text.matches(',').count();
    match style {
        DecimalStyle::Dot => (dots > 0).then_some('.'),
        DecimalStyle::Comma => (commas > 0).then_some(','),
        DecimalStyle::Auto => match (dots, commas) {
            (0, 0) => None,
            (_, 0) => (dots == 1).then_some('.'),
            (0, 1) => {
                let after = text.len() - text.rfind(',').map_or(0, |at| at + 1);
                // `1,234` reads as a thousands group, `12,5` and `1,2345` as decimals.
                (after != 3).then_some(',')
            }
            (0, _) => None,
            _ => text.rfind(['.', ',']).and_then(|at| text[at..].chars().next()),
        },
    }
}

/// Thousands separators split the integer part into groups of three digits
/// (two in the Indian notation, `1,23,456`, except the last group): `1.2.3`
/// is not an amount, rather than the guess `123`.
fn thousands_groups_are_sound(cleaned: &str, decimal: Option<char>) -> bool {
    let mantissa = cleaned.split(['e', 'E']).next().unwrap_or(cleaned);
    let integer = match decimal {
        Some(decimal) => mantissa.split(decimal).next().unwrap_or(mantissa),
        None => mantissa,
    };
    let groups: Vec<&str> = integer.split(['.', ',']).collect();
    match groups.as_slice() {
        [_] => true,
        [first, middle @ .., last] => {
            (1..=3).contains(&first.len())
                && middle.iter().all(|g| (2..=3).contains(&g.len()))
                && last.len() == 3
        }
        [] => false,
    }
}

/// Strips redundant zeros and expands an exponent so equal amounts are spelt
/// alike: `0980.500` -> `980.5`, `1e3` -> `1000`, `-0.00` -> `0`.
fn canonical_decimal(negative: bool, plain: &str) -> String {
    let (mantissa, exponent) = match plain.find(['e', 'E']) {
        Some(at) => (&plain[..at], plain[at + 1..].parse::<i64>().unwrap_or(0)),
        None => (plain, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    // Position of the decimal point within `digits`, shifted by the exponent.
    let mut point = int_part.len() as i64 + exponent.clamp(-MAX_EXPONENT, MAX_EXPONENT);
    if point < 0 {
        let pad = usize::try_from(-point).unwrap_or(0);
        digits.splice(0..0, std::iter::repeat_n(b'0', pad));
        point = 0;
    }
    let point = usize::try_from(point).unwrap_or(0);
    if point > digits.len() {
        digits.resize(point, b'0');
    }
    let (int_digits, frac_digits) = digits.split_at(point);
    let int_text = std::str::from_utf8(int_digits).unwrap_or("0").trim_start_matches('0');
    let frac_text = std::str::from_utf8(frac_digits).unwrap_or("").trim_end_matches('0');
    let int_text = if int_text.is_empty() { "0" } else { int_text };
    let zero = int_text == "0" && frac_text.is_empty();
    let mut out = String::with_capacity(int_text.len() + frac_text.len() + 2);
    if negative && !zero {
        out.push('-');
    }
    out.push_str(int_text);
    if !frac_text.is_empty() {
        out.push('.');
        out.push_str(frac_text);
    }
    out
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most 40 characters of a value, for messages.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn risk_scores() {
        assert_eq!(risk_score(None), Ok(0.0));
        assert_eq!(risk_score(Some(&json!(""))), Ok(0.0));
        assert_eq!(risk_score(Some(&json!(" 91 "))), Ok(91.0));
        assert_eq!(risk_score(Some(&json!(91))), Ok(91.0));
        assert_eq!(risk_score(Some(&json!(100))), Ok(100.0));
        assert_eq!(risk_score(Some(&json!("74.99"))), Ok(74.99));
        for bad in [
            json!("abc"),
            json!(150),
            json!(-1),
            json!("NaN"),
            json!("inf"),
            json!(true),
            json!("1,5"),
        ] {
            assert!(risk_score(Some(&bad)).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn amounts_in_bank_notations() {
        let cases = [
            ("1.234,56", "1234.56"),
            ("1234.56", "1234.56"),
            ("980.00", "980"),
            ("-98,76", "-98.76"),
            ("\"-123,45 €\"", "-123.45"),
            ("-123,45 €", "-123.45"),
            ("11'373.94", "11373.94"),
            (" 34.65", "34.65"),
            ("50000", "50000"),
            ("1,234", "1234"),
            ("1,234,567.5", "1234567.5"),
            ("1.234.567", "1234567"),
            ("-0.00", "0"),
            ("0.10", "0.1"),
            ("15000.5", "15000.5"),
            ("1e3", "1000"),
            ("2.5E-3", "0.0025"),
            ("(42.10)", "-42.1"),
            ("USD 12.00", "12"),
            ("12.00 EUR", "12"),
        ];
        for (text, want) in cases {
            let text = text.trim_matches('"');
            assert_eq!(exact_decimal(text, DecimalStyle::Auto).as_deref(), Ok(want), "{text}");
        }
        assert_eq!(exact_decimal("1,234", DecimalStyle::Comma).as_deref(), Ok("1.234"));
        assert_eq!(exact_decimal("1.234", DecimalStyle::Comma).as_deref(), Ok("1234"));
        assert_eq!(amount(&json!(980.0), DecimalStyle::Comma).as_deref(), Ok("980"));
        for bad in ["abc", "12.34.56,7,8", "", "--5", "1.2.3e"] {
            assert!(exact_decimal(bad, DecimalStyle::Auto).is_err(), "{bad:?} must be rejected");
        }
    }
}
