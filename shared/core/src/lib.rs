//! Pure domain of alert triage: everything between the bytes of a drop and the
//! audit record, with no I/O of its own, no AWS types and no async runtime.
//!
//! The flow is `parse` (records out of a drop) -> `normalise` (one alert) ->
//! `fingerprint` -> `classify` -> `route`, tied together by [`Engine`]; the
//! adapters (SQLite locally, DynamoDB and SQS in the cloud) decide what is new
//! and keep the audit trail.

pub mod audit;
pub mod classify;
pub mod config;
pub mod fields;
pub mod fingerprint;
pub mod model;
pub mod normalise;
pub mod notice;
pub mod number;
pub mod parse;
pub mod report;
pub mod route;
pub mod tally;
pub mod timestamp;

mod engine;

pub use audit::{AuditRecord, Outcome};
pub use config::{Config, ConfigError};
pub use engine::{Assessed, Engine};
pub use model::{Alert, Origin, Rejected, Severity, Source};
pub use notice::Notice;
pub use tally::RunTally;
