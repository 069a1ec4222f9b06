//! Errors of the embedded adapters: each says what failed and where.

use std::path::PathBuf;

/// What can stop a local run.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("database {path}: {source}")]
    Database { path: PathBuf, source: rusqlite::Error },
    #[error("database {path}: {message}")]
    Schema { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("export {}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Export { path: PathBuf, line: Option<usize>, message: String },
    #[error("destination {destination}: {message}")]
    Destination { destination: String, message: String },
}

impl LocalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LocalError::Io { path: path.into(), source }
    }
}
