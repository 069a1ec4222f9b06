//! Properties over generated input: the parser survives any bytes, CSV and
//! JSON written by standard writers come back intact however they are
//! chunked, amounts reach their canonical form, and the fingerprint ignores
//! the layout of the JSON it came from.

use std::io::Read;

use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use triage_core::fingerprint;
use triage_core::normalise::normalise;
use triage_core::number::{DecimalStyle, exact_decimal};
use triage_core::parse::{self, FileError, Item};
use triage_core::{Config, Source};

/// A reader that hands out its bytes in the chunk sizes given, cycling.
struct Chunked {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.sizes[self.turn % self.sizes.len()].max(1);
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Everything a drop yields, checking the stream's contract on the way:
/// a file error is the last item, and the stream ends.
fn drain(
    name: &str,
    reader: impl Read,
    config: &Config,
    budget: usize,
) -> Result<Vec<Item>, FileError> {
    let mut items = Vec::new();
    let mut records = parse::records(name, reader, config)?;
    while let Some(next) = records.next() {
        assert!(items.len() <= budget, "{name}: more items than the input could hold");
        match next {
            Ok(item) => items.push(item),
            Err(e) => {
                assert!(records.next().is_none(), "{name}: items after the file error {e}");
                return Err(e);
            }
        }
    }
    Ok(items)
}

fn configs() -> Vec<Config> {
    let small = "[limits]\nmax_record_bytes = 1024\nmax_field_bytes = 16\nmax_fields = 4\n";
    vec![
        Config::default(),
        Config::from_toml("[csv]\nencoding = \"windows-1252\"\ndelimiter = \";\"\n")
            .expect("valid"),
        Config::from_toml(small).expect("valid"),
    ]
}

/// Bytes that look like drops often enough to reach deep into the parsers.
fn drop_bytes() -> impl Strategy<Value = Vec<u8>> {
    let structural = prop::sample::select(
        b"[]{}\",:;\\ \t\r\n\x1a\xef\xbb\xbf\xff\xfe0123456789.-eEaAtrufnlsx".to_vec(),
    );
    let tokens = prop::sample::select(vec![
        &b"{\"message_id\":\"m\"}"[..],
        b"txn_id,amount,risk_score\n",
        b"\"payload\":{\"headers\":[]}",
        b"\"risk_score\":",
        b"\r\n",
        b"\"\"",
        b"null",
        b"\xef\xbb\xbf",
        b"\xff\xfe",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        prop::collection::vec(structural, 0..512),
        prop::collection::vec(
            prop_oneof![tokens.prop_map(<[u8]>::to_vec), prop::collection::vec(any::<u8>(), 0..4)],
            0..64
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// (a) Any bytes: no panic, no endless stream, and every item is a
    /// record, a rejection or a final file error; records normalise or are
    /// rejected without panicking either.
    #[test]
    fn any_bytes_are_records_rejections_or_one_file_error(
        bytes in drop_bytes(),
        sizes in prop::collection::vec(1usize..64, 1..8),
    ) {
        for config in configs() {
            let reader = Chunked { data: bytes.clone(), at: 0, sizes: sizes.clone(), turn: 0 };
            if let Ok(items) = drain("fuzz", reader, &config, bytes.len() + 1) {
                for item in items {
                    if let Item::Record(raw) = item {
                        let _ = normalise(raw, &config);
                    }
                }
            }
        }
    }
}

/// Rows the parser treats as blank: every field empty or ASCII blanks.
fn is_blank(row: &[String]) -> bool {
    row.iter().all(|f| f.bytes().all(|b| b.is_ascii_whitespace() || b == 0x1a))
}

fn csv_table() -> impl Strategy<Value = (usize, Vec<Vec<String>>)> {
    (1usize..6).prop_flat_map(|columns| {
        let field = prop_oneof![any::<String>(), "[ a-z0-9,;\"\r\n\t]{0,12}", Just(String::new()),];
        let row = prop::collection::vec(field, columns);
        (Just(columns), prop::collection::vec(row, 0..20))
    })
}

proptest! {
    /// (b) CSV written by the `csv` crate reads back row for row, field for
    /// field, whatever the fields hold (quotes, delimiters, line ends, any
    /// Unicode), with blank rows skipped.
    #[test]
    fn csv_written_by_a_writer_reads_back_intact(
        (columns, rows) in csv_table(),
        crlf in any::<bool>(),
        sizes in prop::collection::vec(1usize..40, 1..6),
    ) {
        let header: Vec<String> = (0..columns).map(|c| format!("col{c}")).collect();
        let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
        let mut writer = csv::WriterBuilder::new().terminator(terminator).from_writer(Vec::new());
        writer.write_record(&header).expect("header");
        for row in &rows {
            writer.write_record(row).expect("row");
        }
        let bytes = writer.into_inner().expect("flush");
        let config = Config::default();
        let reader = Chunked { data: bytes.clone(), at: 0, sizes, turn: 0 };
        let kept: Vec<&Vec<String>> = rows.iter().filter(|r| !is_blank(r)).collect();
        let items = match drain("written.csv", reader, &config, rows.len() + 1) {
            Ok(items) => items,
            // A drop with no records is reported, not passed over.
            Err(e) if kept.is_empty() && e.message == "no records after the header" => return Ok(()),
            Err(e) => panic!("{e}\n{}", String::from_utf8_lossy(&bytes)),
        };
        prop_assert_eq!(items.len(), kept.len());
        for (item, row) in items.iter().zip(kept) {
            match item {
                Item::Record(raw) => {
                    let names: Vec<&str> = raw.fields.iter().map(|(k, _)| k.as_str()).collect();
                    prop_assert_eq!(&names, &header);
                    let values: Vec<&str> =
                        raw.fields.iter().map(|(_, v)| v.as_str().unwrap_or("<not text>")).collect();
                    prop_assert_eq!(values, row.iter().map(String::as_str).collect::<Vec<_>>());
                }
                // A value whose later lines look like rows is held back as a
                // possible unclosed quote; nothing else is.
                Item::Rejected(rejected) => {
                    prop_assert!(rejected.reason.contains("is a quote left open"), "{}", rejected.reason);
                    let delimiters_after_break = row.iter().any(|f| {
                        f.split(['\n', '\r']).skip(1).any(|line| line.matches(',').count() >= columns.max(3) - 1)
                    });
                    prop_assert!(delimiters_after_break, "{row:?}");
                }
            }
        }
    }
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        any::<String>().prop_map(Value::String),
        "[\\\\\"{}\\[\\],: \n]{0,8}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    // `payload` would make an object look like a Gmail message.
    prop::collection::btree_map(
        any::<String>().prop_filter("not payload", |k| k != "payload"),
        json_value(),
        0..8,
    )
    .prop_map(|m| m.into_iter().collect())
}

/// How the generated objects are laid out in the drop.
#[derive(Debug, Clone, Copy)]
enum Layout {
    Compact,
    Pretty,
    Ndjson,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// (c) The scanner finds the same objects as serde_json parsing the
    /// whole document, whatever the chunking; a leading pad of nearly 64 KiB
    /// moves the read-buffer boundary to every position of the records.
    #[test]
    fn json_scanner_agrees_with_serde_json(
        objects in prop::collection::vec(json_object(), 0..8),
        layout in prop_oneof![Just(Layout::Compact), Just(Layout::Pretty), Just(Layout::Ndjson)],
        pad in prop_oneof![Just(None), (64 * 1024 - 1500usize..64 * 1024).prop_map(Some)],
        sizes in prop::collection::vec(1usize..50, 1..6),
    ) {
        let mut all = objects.clone();
        if let Some(pad) = pad {
            let mut first = Map::new();
            first.insert("pad".into(), Value::String("p".repeat(pad)));
            all.insert(0, first);
        }
        let bytes = match layout {
            Layout::Compact => serde_json::to_vec(&all).expect("serialise"),
            Layout::Pretty => serde_json::to_vec_pretty(&all).expect("serialise"),
            Layout::Ndjson => {
                let mut out = Vec::new();
                for object in &all {
                    out.extend(serde_json::to_vec(object).expect("serialise"));
                    out.push(b'\n');
                }
                out
            }
        };
        if matches!(layout, Layout::Compact | Layout::Pretty) {
            let whole: Vec<Map<String, Value>> = serde_json::from_slice(&bytes).expect("serde_json reads it");
            prop_assert_eq!(&whole, &all);
        }
        let config = Config::default();
        let reader = Chunked { data: bytes, at: 0, sizes, turn: 0 };
        let result = drain("generated.json", reader, &config, all.len() + 1);
        if all.is_empty() && matches!(layout, Layout::Ndjson) {
            // An empty file is an empty drop.
            prop_assert!(result.is_err());
            return Ok(());
        }
        let items = result.unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(items.len(), all.len());
        for (at, (item, object)) in items.into_iter().zip(&all).enumerate() {
            let Item::Record(raw) = item else { panic!("record {at}: {item:?}") };
            prop_assert_eq!(raw.source, Source::Gmail);
            prop_assert_eq!(raw.origin.index, at as u64);
            let read: Map<String, Value> = raw.fields.into_iter().collect();
            prop_assert_eq!(&read, object);
        }
    }
}

/// A decimal as a bank might write it with a `.` point: optional sign,
/// optional `,` thousands groups; and its canonical form, worked out here.
fn written_decimal() -> impl Strategy<Value = (String, String)> {
    ("(0|[1-9][0-9]{0,14})", prop::option::of("[0-9]{1,8}"), any::<bool>(), any::<bool>()).prop_map(
        |(int, frac, negative, grouped)| {
            let mut written = String::new();
            if negative {
                written.push('-');
            }
            if grouped {
                let digits: Vec<char> = int.chars().collect();
                let first = match digits.len() % 3 {
                    0 => 3,
                    n => n,
                };
                written.extend(&digits[..first]);
                for group in digits[first..].chunks(3) {
                    written.push(',');
                    written.extend(group);
                }
            } else {
                written.push_str(&int);
            }
            if let Some(frac) = &frac {
                written.push('.');
                written.push_str(frac);
            }
            let frac = frac.as_deref().unwrap_or("").trim_end_matches('0');
            let mut canonical = String::new();
            if negative && (int != "0" || !frac.is_empty()) {
                canonical.push('-');
            }
            canonical.push_str(&int);
            if !frac.is_empty() {
                canonical.push('.');
                canonical.push_str(frac);
            }
            (written, canonical)
        },
    )
}

proptest! {
    /// (d) `exact_decimal` never panics on any text in any style.
    #[test]
    fn exact_decimal_never_panics(text in prop_oneof![any::<String>(), "[-+0-9.,eE ()'€$A-Z]{0,24}"]) {
        for style in [DecimalStyle::Auto, DecimalStyle::Dot, DecimalStyle::Comma] {
            if let Ok(out) = exact_decimal(&text, style) {
                // Whatever it returns is itself canonical.
                prop_assert_eq!(exact_decimal(&out, DecimalStyle::Dot), Ok(out.clone()));
            }
        }
    }

    /// (d) ... and reads `.`-point decimals, grouped or not, to their
    /// canonical form.
    #[test]
    fn exact_decimal_reaches_the_canonical_form((written, canonical) in written_decimal()) {
        prop_assert_eq!(exact_decimal(&written, DecimalStyle::Auto), Ok(canonical.clone()), "{}", written);
        prop_assert_eq!(exact_decimal(&written, DecimalStyle::Dot), Ok(canonical.clone()), "{}", written);
        let padded = format!(" USD {written} ");
        prop_assert_eq!(exact_decimal(&padded, DecimalStyle::Dot), Ok(canonical), "{}", padded);
    }
}

/// An e-mail alert's fields as (key, JSON text) pairs.
fn alert_fields() -> impl Strategy<Value = Vec<(String, Value)>> {
    let known = (
        "[A-Za-z0-9-]{1,12}",
        any::<String>(),
        any::<String>(),
        prop_oneof![
            (0u8..=100).prop_map(Value::from),
            (0u8..=100).prop_map(|n| Value::from(n.to_string()))
        ],
        "[A-Za-z]{2}",
        prop::sample::select(vec![
            "2024-12-12T17:00:00+05:00",
            "2024-12-12T12:00:00Z",
            "Thu, 12 Dec 2024 12:00:00 +0000",
        ]),
    );
    let extra = prop::collection::btree_map("x-[a-z]{1,6}", json_leaf(), 0..4);
    (known, extra).prop_map(|((id, subject, body, score, country, created), extra)| {
        let mut fields = vec![
            ("message_id".to_string(), Value::String(id)),
            ("subject".to_string(), Value::String(subject)),
            ("body".to_string(), Value::String(body)),
            ("risk_score".to_string(), score),
            ("country".to_string(), Value::String(country)),
            ("created_at".to_string(), Value::String(created.to_string())),
        ];
        fields.extend(extra);
        fields
    })
}

/// JSON text of an object with its keys in the given order and the given
/// whitespace around every token.
fn layout(fields: &[(String, Value)], blanks: &[String]) -> String {
    let mut blank = blanks.iter().cycle();
    let mut next = || blank.next().cloned().unwrap_or_default();
    let mut out = format!("{}{{", next());
    for (at, (key, value)) in fields.iter().enumerate() {
        if at > 0 {
            out.push_str(&next());
            out.push(',');
        }
        out.push_str(&next());
        out.push_str(&serde_json::to_string(key).expect("key"));
        out.push_str(&next());
        out.push(':');
        out.push_str(&next());
        out.push_str(&serde_json::to_string(value).expect("value"));
    }
    out.push_str(&next());
    out.push('}');
    out.push_str(&next());
    out
}

fn fingerprint_of(text: &str) -> String {
    let config = Config::default();
    let items = drain("alert.json", text.as_bytes(), &config, 2).unwrap_or_else(|e| panic!("{e}"));
    let [Item::Record(raw)] = <[Item; 1]>::try_from(items).unwrap_or_else(|i| panic!("{i:?}"))
    else {
        panic!("not a record")
    };
    let alert = normalise(raw, &config).unwrap_or_else(|r| panic!("{r}"));
    fingerprint::fingerprint(alert.source, &fingerprint::canonical(&alert.payload))
}

proptest! {
    /// (e) The fingerprint depends on the alert, not on the key order or the
    /// whitespace of the JSON it was read from.
    #[test]
    fn fingerprint_ignores_key_order_and_whitespace(
        (fields, shuffled) in alert_fields().prop_flat_map(|f| (Just(f.clone()), Just(f).prop_shuffle())),
        blanks in prop::collection::vec("[ \t\r\n]{0,3}", 1..12),
    ) {
        let compact = layout(&fields, &[String::new()]);
        let spaced = layout(&shuffled, &blanks);
        prop_assert_eq!(fingerprint_of(&compact), fingerprint_of(&spaced), "{}\n{}", compact, spaced);
        // The same alert inside an array, too.
        let array = format!("[{spaced}]");
        prop_assert_eq!(fingerprint_of(&compact), fingerprint_of(&array));
    }
}
