//! JSON drops, one record at a time: a top-level array is walked element by
//! element, and a stream of objects (one object, NDJSON, or concatenated
//! objects) record by record. serde_json has no pull reader over array
//! elements, so this scanner finds each record's bounds and hands its bytes to
//! serde_json; memory is bounded by the largest record, not the file.

use std::io::BufRead;

use serde_json::{Map, Value};

use super::{FileError, Item, gmail, strict};
use crate::config::Config;
use crate::model::{Origin, Rejected, Source};
use crate::normalise::RawRecord;

/// Most bytes of a rejected record kept for the audit.
const RAW_KEPT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Start,
    /// Inside `[ ... ]`; `expect_comma` after an element.
    Array {
        expect_comma: bool,
    },
    /// A sequence of values separated by whitespace.
    Stream,
    Done,
}

pub(super) struct JsonRecords<'a, R> {
    object: String,
    input: R,
    config: &'a Config,
    mode: Mode,
    /// 1-based line of the next unread byte.
    line: u64,
    index: u64,
    buffer: Vec<u8>,
}

/// Outcome of scanning one value.
struct Scanned {
    line: u64,
    /// True when the value was longer than the limit (its bytes were dropped).
    oversize: bool,
    len: usize,
}

impl<'a, R: BufRead> JsonRecords<'a, R> {
    pub(super) fn new(object: &str, input: R, skipped_lines: u64, config: &'a Config) -> Self {
        JsonRecords {
            object: object.to_string(),
            input,
            config,
            mode: Mode::Start,
            line: skipped_lines + 1,
            index: 0,
            buffer: Vec::new(),
        }
    }

    fn error(&mut self, message: impl Into<String>) -> Option<Result<Item, FileError>> {
        self.mode = Mode::Done;
        Some(Err(FileError::new(&self.object, Some(self.line), message)))
    }

    /// Skips whitespace (and Ctrl-Z); returns the next byte without consuming it.
    fn peek(&mut self) -> Result<Option<u8>, FileError> {
        loop {
            let buffer = self.input.fill_buf().map_err(|e| io_error(&self.object, self.line, e))?;
            if buffer.is_empty() {
                return Ok(None);
            }
            // The Ctrl-Z some exporters append is padding here, as in CSV.
            match buffer.iter().position(|b| !b.is_ascii_whitespace() && *b != 0x1a) {
                Some(at) => {
                    let (first, newlines) = (buffer[at], count_newlines(&buffer[..at]));
                    self.line += newlines;
                    self.input.consume(at);
                    return Ok(Some(first));
                }
                None => {
                    let (len, newlines) = (buffer.len(), count_newlines(buffer));
                    self.line += newlines;
                    self.input.consume(len);
                }
            }
        }
    }

    /// Reads one JSON value's bytes into `self.buffer` (at most the record
    /// limit), tracking strings and nesting to find where it ends.
    fn scan_value(&mut self) -> Result<Scanned, FileError> {
        let limit = self.config.file.limits.max_record_bytes;
        let start_line = self.line;
        self.buffer.clear();
        let (mut depth, mut in_string, mut escaped, mut len) = (0usize, false, false, 0usize);
        let mut scalar = false;
        loop {
            let chunk = self.input.fill_buf().map_err(|e| io_error(&self.object, self.line, e))?;
            if chunk.is_empty() {
                if scalar && depth == 0 && !in_string {
                    return Ok(Scanned { line: start_line, oversize: len > limit, len });
                }
                return Err(FileError::new(
                    &self.object,
                    Some(start_line),
                    "the file ends inside a record that starts on this line",
                ));
            }
            let mut end = None;
            for (at, &byte) in chunk.iter().enumerate() {
                if len + at == 0 && matches!(byte, b',' | b']' | b'}') {
                    // A stray closer where a record should start: take it as
                    // a one-byte record so the scan always moves on.
                    end = Some(1);
                    break;
                }
                if in_string {
                    match (escaped, byte) {
                        (true, _) => escaped = false,
                        (false, b'\\') => escaped = true,
                        (false, b'"') => in_string = false,
                        _ => {}
                    }
                } else {
                    match byte {
                        b'"' if !scalar => in_string = true,
                        b'{' | b'[' if !scalar => depth += 1,
                        b'}' | b']' if depth > 0 => depth -= 1,
                        b',' | b']' | b'}' if scalar || depth == 0 => {
                            end = Some(at);
                            break;
                        }
                        b if b.is_ascii_whitespace() && (scalar || depth == 0) => {
                            end = Some(at);
                            break;
                        }
                        _ if depth == 0 && len + at == 0 => scalar = true,
                        _ => {}
                    }
                }
                if !scalar && depth == 0 && !in_string {
                    end = Some(at + 1);
                    break;
                }
            }
            let taken = end.unwrap_or(chunk.len());
            let room = (limit + 1).saturating_sub(self.buffer.len());
            self.buffer.extend_from_slice(&chunk[..taken.min(room)]);
            self.line += count_newlines(&chunk[..taken]);
            len += taken;
            self.input.consume(taken);
            if end.is_some() {
                return Ok(Scanned { line: start_line, oversize: len > limit, len });
            }
        }
    }

    /// Turns the scanned bytes into an item.
    fn item(&mut self, scanned: &Scanned) -> Item {
        let origin =
            Origin { object: self.object.clone(), line: Some(scanned.line), index: self.index };
        self.index += 1;
        let rejected = |reason: String, raw: &[u8]| {
            let kept = &raw[..raw.len().min(RAW_KEPT)];
            Item::Rejected(
                Rejected::new(Source::Gmail, origin.clone(), reason)
                    .raw(String::from_utf8_lossy(kept)),
            )
        };
        if scanned.oversize {
            let limit = self.config.file.limits.max_record_bytes;
            return rejected(
                format!("record of {} bytes exceeds the limit of {limit}", scanned.len),
                &self.buffer,
            );
        }
        let value = match strict::from_slice(&self.buffer) {
            Ok(value) => value,
            Err(e) => {
                // serde_json counts lines from the record's start; report the file's.
                let message = e.to_string();
                let message = message.split(" at line ").next().unwrap_or(&message);
                let line = scanned.line + e.line().saturating_sub(1) as u64;
                return rejected(format!("not valid JSON at line {line}: {message}"), &self.buffer);
            }
        };
        let Value::Object(map) = value else {
            return rejected("record is not a JSON object".into(), &self.buffer);
        };
        let raw = String::from_utf8(std::mem::take(&mut self.buffer)).unwrap_or_default();
        record_of(map, origin, raw)
    }
}

/// A JSON object as a raw record: a Gmail message is unpacked, any other
/// object is taken field by field.
fn record_of(map: Map<String, Value>, origin: Origin, raw: String) -> Item {
    if gmail::is_gmail_message(&map) {
        return match gmail::fields(&map) {
            Ok(fields) => {
                Item::Record(RawRecord { source: Source::Gmail, origin, fields, mapped: true, raw })
            }
            Err(reason) => Item::Rejected(
                Rejected::new(Source::Gmail, origin, reason)
                    .raw(raw.chars().take(RAW_KEPT).collect::<String>()),
            ),
        };
    }
    let fields = map.into_iter().collect();
    Item::Record(RawRecord { source: Source::Gmail, origin, fields, mapped: false, raw })
}

impl<R: BufRead> Iterator for JsonRecords<'_, R> {
    type Item = Result<Item, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let next = match self.peek() {
                Ok(next) => next,
                Err(e) => {
                    self.mode = Mode::Done;
                    return Some(Err(e));
                }
            };
            match (self.mode, next) {
                (Mode::Done, _) => return None,
                (Mode::Start, Some(b'[')) => {
                    self.input.consume(1);
                    self.mode = Mode::Array { expect_comma: false };
                }
                (Mode::Start, Some(_)) => self.mode = Mode::Stream,
                (Mode::Start, None) => return self.error("the drop is empty"),
                (Mode::Array { .. }, Some(b']')) => {
                    self.input.consume(1);
                    return match self.peek() {
                        Ok(None) => {
                            self.mode = Mode::Done;
                            None
                        }
                        Ok(Some(_)) => self.error("unexpected data after the closing `]`"),
                        Err(e) => Some(Err(e)),
                    };
                }
                (Mode::Array { expect_comma: true }, Some(b',')) => {
                    self.input.consume(1);
                    self.mode = Mode::Array { expect_comma: false };
                }
                (Mode::Array { expect_comma: true }, Some(_)) => {
                    return self.error("expected `,` or `]` between records");
                }
                (Mode::Array { expect_comma: false }, Some(b',')) => {
                    return self.error("a `,` with no record before it");
                }
                (Mode::Array { .. }, None) => {
                    return self.error("the file ends before the closing `]`");
                }
                (Mode::Array { expect_comma: false } | Mode::Stream, Some(_)) => {
                    if self.mode != Mode::Stream {
                        self.mode = Mode::Array { expect_comma: true };
                    }
                    return match self.scan_value() {
                        Ok(scanned) => Some(Ok(self.item(&scanned))),
                        Err(e) => {
                            self.mode = Mode::Done;
                            Some(Err(e))
                        }
                    };
                }
                (Mode::Stream, None) => {
                    self.mode = Mode::Done;
                    return None;
                }
            }
        }
    }
}

fn io_error(object: &str, line: u64, e: std::io::Error) -> FileError {
    FileError::new(object, Some(line), format!("cannot read: {e}"))
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}
