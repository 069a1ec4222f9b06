//! S3 drops: listing `incoming/`, reading an object as a stream of assessed
//! alerts, and moving it to `processed/` or `quarantine/` (with a report).
//!
//! The object body is never held whole: it is bridged into the core's
//! synchronous parser on a blocking thread, and parsed items come back over a
//! bounded channel, so memory is bounded by the channel, not the object.

use std::io::Read;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::io::SyncIoBridge;
use triage_core::parse::{self, FileError, Item};
use triage_core::{Assessed, Engine, Rejected};

use crate::error::{AwsError, Result, code_of};

/// Where drops arrive.
pub const INCOMING: &str = "incoming/";
pub const PROCESSED: &str = "processed/";
pub const QUARANTINE: &str = "quarantine/";

/// Parsed items buffered between the parser thread and the pipeline.
const CHANNEL: usize = 512;
/// Largest config object read.
const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Characters escaped in a `CopySource` key (everything but unreserved and `/`).
const COPY_SOURCE: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// One item read from a drop.
#[derive(Debug)]
pub enum Parsed {
    Alert(Box<Assessed>),
    Rejected(Rejected),
    /// The rest of the object cannot be read. `transport` is true when the
    /// cause was the connection to S3, not the content: such an object is
    /// retried later, never quarantined.
    Failed {
        error: FileError,
        transport: bool,
    },
}

/// The items of one object, in order, as they are parsed.
#[derive(Debug)]
pub struct DropReader {
    items: mpsc::Receiver<Parsed>,
    task: JoinHandle<()>,
}

impl DropReader {
    pub async fn next(&mut self) -> Option<Parsed> {
        self.items.recv().await
    }

    /// Confirms the parser thread ended normally (a panic there must not
    /// look like the end of the object).
    pub async fn finish(self) -> Result<()> {
        drop(self.items);
        self.task
            .await
            .map_err(|e| AwsError::Malformed { what: "drop parser", message: e.to_string() })
    }
}

/// How an object left `incoming/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    Moved,
    /// Another invocation moved it first.
    AlreadyGone,
}

/// The drop bucket.
#[derive(Debug, Clone)]
pub struct Drops {
    client: Client,
    bucket: String,
}

impl Drops {
    pub fn new(client: Client, bucket: impl Into<String>) -> Drops {
        Drops { client, bucket: bucket.into() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Every object key under `prefix`, following continuation tokens.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::sdk("s3", "ListObjectsV2", e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| !k.ends_with('/'))
                    .map(str::to_string),
            );
        }
        Ok(keys)
    }

    /// Streams the alerts of `key`, assessed at `now`. `None` when the object
    /// is gone (another invocation moved it).
    pub async fn read(
        &self,
        key: &str,
        engine: Arc<Engine>,
        now: DateTime<Utc>,
    ) -> Result<Option<DropReader>> {
        let object = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(object) => object,
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(AwsError::sdk("s3", "GetObject", e)),
        };
        let bridge = SyncIoBridge::new(object.body.into_async_read());
        let (sender, items) = mpsc::channel(CHANNEL);
        let name = key.to_string();
        let task =
            tokio::task::spawn_blocking(move || parse_into(&name, bridge, &engine, now, &sender));
        Ok(Some(DropReader { items, task }))
    }

    /// Moves `key` from `incoming/` to `processed/` or, with `report`, to
    /// `quarantine/` beside `<key>.error.json`.
    pub async fn finish(&self, key: &str, report: Option<&str>) -> Result<Moved> {
        let rest = key.strip_prefix(INCOMING).unwrap_or(key);
        let folder = if report.is_some() { QUARANTINE } else { PROCESSED };
        let target = format!("{folder}{rest}");
        if let Some(report) = report {
            self.put(
                &format!("{target}.error.json"),
                report.as_bytes().to_vec(),
                "application/json",
            )
            .await?;
        }
        let source = format!("{}/{}", self.bucket, utf8_percent_encode(key, COPY_SOURCE));
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(&target)
            .copy_source(source)
            .send()
            .await;
        match copied {
            Ok(_) => {}
            Err(e) if code_of(&e) == Some("NoSuchKey") => return Ok(Moved::AlreadyGone),
            Err(e) => return Err(AwsError::sdk("s3", "CopyObject", e)),
        }
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::sdk("s3", "DeleteObject", e))?;
        Ok(Moved::Moved)
    }

    /// Writes an object (reports; tests upload drops with it).
    pub async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| AwsError::sdk("s3", "PutObject", e))?;
        Ok(())
    }

    /// Reads a small text object (the config).
    pub async fn read_text(&self, key: &str) -> Result<String> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::sdk("s3", "GetObject", e))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| AwsError::Service {
                service: "s3",
                operation: "GetObject",
                message: e.to_string(),
                retryable: true,
            })?
            .into_bytes();
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(AwsError::Config {
                location: key.into(),
                message: "larger than 1 MiB".into(),
            });
        }
        String::from_utf8(bytes.to_vec())
            .map_err(|_| AwsError::Config { location: key.into(), message: "not UTF-8".into() })
    }
}

/// Runs the core parser over `reader` on a blocking thread.
fn parse_into<R: Read>(
    name: &str,
    reader: R,
    engine: &Engine,
    now: DateTime<Utc>,
    sender: &mpsc::Sender<Parsed>,
) {
    let broken = Arc::new(Mutex::new(None));
    let reader = Watched { inner: reader, broken: Arc::clone(&broken) };
    let failed = |error: FileError| {
        let transport = broken.lock().map(|b| b.is_some()).unwrap_or(false);
        Parsed::Failed { error, transport }
    };
    let records = match parse::records(name, reader, engine.config()) {
        Ok(records) => records,
        Err(error) => {
            let _ = sender.blocking_send(failed(error));
            return;
        }
    };
    for item in records {
        let parsed = match item {
            Ok(Item::Record(raw)) => match engine.normalise(raw) {
                Ok(alert) => Parsed::Alert(Box::new(engine.assess(alert, now))),
                Err(rejected) => Parsed::Rejected(rejected),
            },
            Ok(Item::Rejected(rejected)) => Parsed::Rejected(rejected),
            Err(error) => {
                let _ = sender.blocking_send(failed(error));
                return;
            }
        };
        if sender.blocking_send(parsed).is_err() {
            return; // the pipeline stopped reading
        }
    }
}

/// Remembers whether the underlying stream failed, to tell a broken
/// connection from a broken file.
struct Watched<R> {
    inner: R,
    broken: Arc<Mutex<Option<String>>>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if let Ok(mut broken) = self.broken.lock() {
                *broken = Some(e.to_string());
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_escape_spaces_and_plus_but_keep_slashes() {
        let key = "incoming/vendor alerts+2024 12.json";
        assert_eq!(
            utf8_percent_encode(key, COPY_SOURCE).to_string(),
            "incoming/vendor%20alerts%2B2024%2012.json"
        );
    }

    #[tokio::test]
    async fn a_transport_failure_is_not_a_bad_file() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("connection reset"))
            }
        }
        let engine = Engine::new(triage_core::Config::default());
        let (sender, mut items) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || parse_into("x", Broken, &engine, Utc::now(), &sender))
            .await
            .unwrap();
        match items.recv().await {
            Some(Parsed::Failed { transport, .. }) => assert!(transport),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn bad_content_is_not_a_transport_failure() {
        let engine = Engine::new(triage_core::Config::default());
        let (sender, mut items) = mpsc::channel(4);
        let bytes: &'static [u8] = b"";
        tokio::task::spawn_blocking(move || parse_into("x", bytes, &engine, Utc::now(), &sender))
            .await
            .unwrap();
        match items.recv().await {
            Some(Parsed::Failed { transport, .. }) => assert!(!transport),
            other => panic!("unexpected {other:?}"),
        }
    }
}
