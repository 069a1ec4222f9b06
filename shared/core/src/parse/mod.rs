//! Records out of a drop, streamed: the format is detected from the content
//! (JSON array or object, NDJSON, Gmail API messages, or CSV), the encoding
//! from a byte-order mark or the config. Nothing here holds a whole file.

mod csv;
mod gmail;
mod json;
mod strict;

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use encoding_rs_io::DecodeReaderBytesBuilder;

use crate::config::Config;
use crate::model::Rejected;
use crate::normalise::RawRecord;

pub use gmail::is_gmail_message;

/// What a drop yields: a record to normalise, or one already rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Record(RawRecord),
    Rejected(Rejected),
}

/// A drop, or the rest of it, cannot be read: it goes to quarantine with
/// this report. Records yielded before the error stand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileError {
    pub object: String,
    /// 1-based line where reading stopped, when known.
    pub line: Option<u64>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.object, line, self.message),
            None => write!(f, "{}: {}", self.object, self.message),
        }
    }
}

impl FileError {
    pub(crate) fn new(object: &str, line: Option<u64>, message: impl Into<String>) -> Self {
        FileError { object: object.to_string(), line, message: message.into() }
    }
}

/// The detected shape of a drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// The records of one drop, in order.
pub type Records<'a> = Box<dyn Iterator<Item = Result<Item, FileError>> + 'a>;

/// Capacity of the read buffer: also how far ahead the format is sniffed.
const BUFFER: usize = 64 * 1024;

/// Opens a drop named `object` read from `reader`.
pub fn records<'a, R: Read + 'a>(
    object: &str,
    reader: R,
    config: &'a Config,
) -> Result<Records<'a>, FileError> {
    // A byte-order mark decides the encoding; without one, bytes pass through
    // untouched so that invalid UTF-8 is reported where it is, not replaced.
    let mut raw = BufReader::new(Filled(reader));
    let head =
        raw.fill_buf().map_err(|e| FileError::new(object, None, format!("cannot read: {e}")))?;
    let has_bom = encoding_rs::Encoding::for_bom(head).is_some();
    let mut decoder = DecodeReaderBytesBuilder::new();
    decoder.bom_sniffing(true).strip_bom(true).utf8_passthru(true);
    let mut input = BufReader::with_capacity(BUFFER, Filled(decoder.build(raw)));
    let (format, skipped_lines) = sniff(object, &mut input)?;
    match format {
        Format::Json => Ok(Box::new(json::JsonRecords::new(object, input, skipped_lines, config))),
        Format::Csv => {
            // Only a CSV drop may be in a legacy encoding: re-open the stream
            // through the configured decoder when it is not UTF-8 and the
            // file has no byte-order mark (a BOM has decided already).
            if config.encoding != encoding_rs::UTF_8 && !has_bom {
                let transcoded = Filled(
                    DecodeReaderBytesBuilder::new().encoding(Some(config.encoding)).build(input),
                );
                let input = BufReader::with_capacity(BUFFER, transcoded);
                return Ok(Box::new(csv::CsvRecords::new(object, input, skipped_lines, config)?));
            }
            Ok(Box::new(csv::CsvRecords::new(object, input, skipped_lines, config)?))
        }
    }
}

/// A reader that fills the caller's buffer as far as the source allows. The
/// BOM sniffer hands out the first three bytes of a file on their own, and the
/// format and delimiter sniffers must see a whole buffer, not three bytes.
struct Filled<R>(R);

impl<R: Read> Read for Filled<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // Hand over what was read; the error comes back on the next call.
                Err(_) if filled > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

/// Skips leading whitespace and decides the format from the first byte.
/// Returns the number of whole lines skipped.
fn sniff(object: &str, input: &mut impl BufRead) -> Result<(Format, u64), FileError> {
    let mut lines = 0u64;
    loop {
        let buffer = input
            .fill_buf()
            .map_err(|e| FileError::new(object, None, format!("cannot read: {e}")))?;
        if buffer.is_empty() {
            return Err(FileError::new(
                object,
                None,
                "the drop is empty: no header and no records",
            ));
        }
        // Consume whole blank lines only, so CSV line numbers stay right.
        let Some(at) = buffer.iter().position(|b| !b.is_ascii_whitespace() && *b != 0x1a) else {
            lines += buffer.iter().filter(|b| **b == b'\n').count() as u64;
            let len = buffer.len();
            input.consume(len);
            continue;
        };
        let first = buffer[at];
        let line_start = buffer[..at].iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        lines += buffer[..line_start].iter().filter(|b| **b == b'\n').count() as u64;
        input.consume(line_start);
        let format = if first == b'{' || first == b'[' { Format::Json } else { Format::Csv };
        return Ok((format, lines));
    }
}
