//! CSV drops row by row: header mapped once per file, delimiter sniffed from
//! the header line unless configured, quoted fields with commas and newlines,
//! CRLF / LF / CR line ends, ragged rows. A row that is not UTF-8 is rejected
//! on its own; a header that is not is a file error.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::rc::Rc;

use csv::{ByteRecord, Reader, ReaderBuilder};
use serde_json::Value;

use super::{FileError, Item};
use crate::config::Config;
use crate::fields::{CSV_FIELDS, FieldMap};
use crate::model::{Origin, Rejected, Source};
use crate::normalise::RawRecord;

/// Delimiters considered when sniffing, in order of preference on a tie.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

pub(super) struct CsvRecords<R> {
    object: String,
    reader: Reader<LineCounting<R>>,
    lines: Rc<RefCell<LineIndex>>,
    /// Canonical names, one per column.
    header: Vec<String>,
    /// Lines before the csv reader's first line.
    line_offset: u64,
    index: u64,
    row: ByteRecord,
    delimiter: u8,
    max_record_bytes: usize,
    fields: FieldMap,
    has_header: bool,
    done: bool,
}

impl<R: BufRead> CsvRecords<R> {
    pub(super) fn new(
        object: &str,
        mut input: R,
        skipped: u64,
        config: &Config,
    ) -> Result<Self, FileError> {
        let mut line_offset = skipped;
        // `header_line` counts from the top of the file, blank lines included.
        for _ in (skipped + 1)..config.file.csv.header_line {
            if !skip_line(&mut input)
                .map_err(|e| FileError::new(object, None, format!("cannot read: {e}")))?
            {
                return Err(FileError::new(
                    object,
                    None,
                    "the file ends before the configured header line",
                ));
            }
            line_offset += 1;
        }
        let delimiter = match config.delimiter {
            Some(delimiter) => delimiter,
            None => {
                let buffer = input
                    .fill_buf()
                    .map_err(|e| FileError::new(object, None, format!("cannot read: {e}")))?;
                sniff_delimiter(buffer)
            }
        };
        let lines = Rc::new(RefCell::new(LineIndex {
            delimiter,
            field_start: true,
            ..LineIndex::default()
        }));
        let mut reader = ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(LineCounting {
                inner: input,
                lines: Rc::clone(&lines),
                offset: 0,
                // Rows up to the limit are read, rows up to twice it are
                // rejected one by one; anything longer stops the drop.
                runaway: config.file.limits.max_record_bytes.saturating_mul(2),
                line_offset,
            });
        let header_line = Some(line_offset + 1);
        let mut raw_header = ByteRecord::new();
        if config.file.csv.has_header {
            match reader.read_byte_record(&mut raw_header) {
                Ok(true) => {}
                Ok(false) => return Err(FileError::new(object, header_line, "no header row")),
                Err(e) => {
                    return Err(FileError::new(
                        object,
                        header_line,
                        format!("cannot read the header: {e}"),
                    ));
                }
            }
        }
        let mut header = Vec::with_capacity(raw_header.len());
        for (at, name) in raw_header.iter().enumerate() {
            let name = std::str::from_utf8(name).map_err(|_| {
                FileError::new(
                    object,
                    header_line,
                    format!(
                        "column {} of the header is not UTF-8; set [csv] encoding (e.g. \"windows-1252\") \
                         for files without a byte-order mark",
                        at + 1
                    ),
                )
            })?;
            let name = name.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
            header.push(match name {
                "" => format!("column_{}", at + 1),
                _ => config.fields.canonical(Source::Csv, name),
            });
        }
        Ok(CsvRecords {
            object: object.to_string(),
            reader,
            lines,
            header,
            line_offset,
            index: 0,
            row: ByteRecord::new(),
            delimiter,
            max_record_bytes: config.file.limits.max_record_bytes,
            fields: config.fields.clone(),
            has_header: config.file.csv.has_header,
            done: false,
        })
    }

    fn item(&mut self) -> Option<Item> {
        let start = self.row.position().map_or(0, |p| p.byte());
        let line = Some(self.lines.borrow_mut().line_at(start) + self.line_offset);
        // Rows of nothing (blank, or only delimiters, or the Ctrl-Z some
        // exporters append) carry no alert.
        if self.row.iter().all(|f| f.iter().all(|b| b.is_ascii_whitespace() || *b == 0x1a)) {
            return None;
        }
        let origin = Origin { object: self.object.clone(), line, index: self.index };
        self.index += 1;
        let raw = self.raw_text();
        if self.row.as_slice().len() > self.max_record_bytes {
            let reason = format!(
                "row of {} bytes exceeds the limit of {}",
                self.row.as_slice().len(),
                self.max_record_bytes
            );
            return Some(Item::Rejected(Rejected::new(Source::Csv, origin, reason).raw(raw)));
        }
        if let Some(reason) = self.misshapen() {
            return Some(Item::Rejected(Rejected::new(Source::Csv, origin, reason).raw(raw)));
        }
        let mut fields = Vec::with_capacity(self.row.len());
        for (at, bytes) in self.row.iter().enumerate() {
            let name = match self.header.get(at) {
                Some(name) => name.clone(),
                // Columns past the header (ragged rows, or no header at all)
                // are named by position, through the field map.
                None => self.fields.canonical(Source::Csv, &format!("column_{}", at + 1)),
            };
            match std::str::from_utf8(bytes) {
                Ok(text) => fields.push((name, Value::String(text.to_string()))),
                Err(_) => {
                    let rejected = Rejected::new(
                        Source::Csv,
                        origin,
                        "value is not UTF-8 (check [csv] encoding)",
                    )
                    .field(name)
                    .raw(raw);
                    return Some(Item::Rejected(rejected));
                }
            }
        }
        Some(Item::Record(RawRecord { source: Source::Csv, origin, fields, mapped: true, raw }))
    }

    /// Why a row cannot be trusted as read: it ends before a column triage
    /// reads (a truncated row), or a value that spans lines and holds whole rows
    /// (a quote left open, swallowing the rows after it).
    fn misshapen(&self) -> Option<String> {
        // Exports often drop empty trailing fields; a row that stops before
        // a column triage reads is cut short instead.
        let missing = self.header.get(self.row.len()..).unwrap_or_default();
        if let Some(column) = missing.iter().find(|c| CSV_FIELDS.contains(&c.as_str())) {
            return Some(format!(
                "row has {} fields, the header has {}: `{column}` and after are missing (cut short?)",
                self.row.len(),
                self.header.len()
            ));
        }
        let row_delimiters = self.header.len().max(3) - 1;
        self.row.iter().enumerate().find_map(|(at, value)| {
            // A later line of the value that has a row's worth of delimiters.
            let mut lines = value.split(|b| *b == b'\n' || *b == b'\r');
            lines.next();
            let swallowed = lines.any(|line| line.iter().filter(|b| **b == self.delimiter).count() >= row_delimiters);
            swallowed.then(|| {
                let name = self.header.get(at).cloned().unwrap_or_else(|| format!("column_{}", at + 1));
                format!("value of `{name}` spans lines that look like whole rows: is a quote left open in it?")
            })
        })
    }

    /// The row as text for the audit of a rejection (fields re-joined).
    fn raw_text(&self) -> String {
        let delimiter = char::from(self.delimiter).to_string();
        let text: Vec<_> = self.row.iter().map(String::from_utf8_lossy).collect();
        let mut joined = text.join(&delimiter);
        if joined.len() > 4096 {
            let cut = (0..=4096).rev().find(|at| joined.is_char_boundary(*at)).unwrap_or(0);
            joined.truncate(cut);
        }
        joined
    }
}

impl<R: BufRead> Iterator for CsvRecords<R> {
    type Item = Result<Item, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.reader.read_byte_record(&mut self.row) {
                Ok(true) => {
                    if let Some(item) = self.item() {
                        return Some(Ok(item));
                    }
                }
                Ok(false) => {
                    self.done = true;
                    if self.index == 0 {
                        let what = if self.has_header {
                            "no records after the header"
                        } else {
                            "no records"
                        };
                        return Some(Err(FileError::new(&self.object, None, what)));
                    }
                }
                Err(e) => {
                    self.done = true;
                    let line = e.position().map(|p| p.line() + self.line_offset);
                    let message = match e.kind() {
                        csv::ErrorKind::Io(io) => io.to_string(),
                        _ => format!("cannot read: {e}"),
                    };
                    return Some(Err(FileError::new(&self.object, line, message)));
                }
            }
        }
        None
    }
}

/// Where the line ends are, for the stretch of input the csv reader has read
/// ahead: the csv crate counts only `\n` and dates a record from before the
/// blank lines it skips, so lines are counted here (LF, CRLF and CR alike).
#[derive(Debug, Default)]
struct LineIndex {
    /// (start, end) byte offsets of line ends not yet passed.
    ends: VecDeque<(u64, u64)>,
    /// Lines ended before the first entry of `ends`.
    passed: u64,
    /// The last byte seen was a `\r` (a `\n` next makes one CRLF).
    after_cr: bool,
    /// The field delimiter, to tell where a field starts.
    delimiter: u8,
    /// Inside a quoted field, as the csv reader will see it.
    quoted: bool,
    /// The last byte closed a quoted field (a `"` next is an escaped quote).
    just_closed: bool,
    /// The next byte starts a field (a `"` there opens a quoted field).
    field_start: bool,
    /// Bytes since the last line end outside quotes: the current record.
    record_bytes: usize,
    /// Line ends seen, and the line the current record started on.
    lines_seen: u64,
    record_line: u64,
}

impl LineIndex {
    fn record(&mut self, offset: u64, bytes: &[u8]) {
        for (at, byte) in bytes.iter().enumerate() {
            let position = offset + at as u64;
            match byte {
                b'\n' if self.after_cr => {
                    if let Some(last) = self.ends.back_mut() {
                        last.1 = position + 1;
                    }
                }
                b'\n' | b'\r' => {
                    self.ends.push_back((position, position + 1));
                    self.lines_seen += 1;
                    if !self.quoted {
                        self.record_bytes = 0;
                        self.record_line = self.lines_seen;
                    }
                }
                _ => {}
            }
            let was_start = self.field_start;
            let closed = self.just_closed;
            self.just_closed = false;
            match *byte {
                b'"' if self.quoted => {
                    self.quoted = false;
                    self.just_closed = true;
                }
                b'"' if was_start || closed => self.quoted = true,
                _ => {}
            }
            self.field_start =
                !self.quoted && (*byte == self.delimiter || *byte == b'\n' || *byte == b'\r');
            self.record_bytes += 1;
            self.after_cr = *byte == b'\r';
        }
    }

    /// The 1-based line of the first content at or after `start`, skipping
    /// the blank lines there; forgets line ends before it.
    fn line_at(&mut self, start: u64) -> u64 {
        let mut cursor = start;
        // A line end that began before `start` is passed, even when the csv
        // reader counts the `\n` of its CRLF as part of the next record.
        while let Some(&(_, end)) = self.ends.front().filter(|(begin, _)| *begin < start) {
            self.ends.pop_front();
            self.passed += 1;
            cursor = cursor.max(end);
        }
        let mut line = self.passed + 1;
        for (begin, end) in &self.ends {
            if *begin != cursor {
                break;
            }
            line += 1;
            cursor = *end;
        }
        line
    }
}

/// Passes bytes to the csv reader, noting where lines end, and stops a
/// record that runs on without end (an unclosed quote, or no line ends at
/// all) before the csv reader buffers all of it.
struct LineCounting<R> {
    inner: R,
    lines: Rc<RefCell<LineIndex>>,
    offset: u64,
    /// Longest record let through: beyond it the drop cannot be read on.
    runaway: usize,
    /// Lines before the csv reader's first line, for messages.
    line_offset: u64,
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut lines = self.lines.borrow_mut();
        lines.record(self.offset, &buf[..n]);
        self.offset += n as u64;
        if lines.record_bytes > self.runaway {
            return Err(std::io::Error::other(format!(
                "a record starting on line {} runs past {} bytes without ending: is a quote left open there?",
                lines.record_line + 1 + self.line_offset,
                self.runaway
            )));
        }
        Ok(n)
    }
}

/// Skips one line (LF, CRLF or CR); false at end of input.
fn skip_line(input: &mut impl BufRead) -> std::io::Result<bool> {
    let mut any = false;
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(any);
        }
        any = true;
        match buffer.iter().position(|b| *b == b'\n' || *b == b'\r') {
            Some(at) => {
                let crlf = buffer[at] == b'\r' && buffer.get(at + 1) == Some(&b'\n');
                input.consume(at + if crlf { 2 } else { 1 });
                return Ok(true);
            }
            None => {
                let len = buffer.len();
                input.consume(len);
            }
        }
    }
}

/// The candidate delimiter seen most often outside quotes on the first line.
fn sniff_delimiter(buffer: &[u8]) -> u8 {
    let mut counts = [0usize; CANDIDATES.len()];
    let mut quoted = false;
    for &byte in buffer {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(at) = CANDIDATES.iter().position(|c| *c == byte) {
                    counts[at] += 1;
                }
            }
            _ => {}
        }
    }
    let best =
        (0..CANDIDATES.len()).max_by_key(|at| (counts[*at], std::cmp::Reverse(*at))).unwrap_or(0);
    CANDIDATES[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1;2;3;4;5"), b',');
        assert_eq!(sniff_delimiter(b"\"a,b\";c;d\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter(b"single"), b',');
    }
}
