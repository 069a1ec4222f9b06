//! Errors of the embedded adapters: each says what failed and where.

use std::path::PathBuf;

/// What can stop a local run. The underlying error is part of the message
/// (not a `source`), so a chain-printing caller shows it once.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("database {}: {cause}", path.display())]
    Database { path: PathBuf, cause: rusqlite::Error },
    #[error("database {}: {message}", path.display())]
    Schema { path: PathBuf, message: String },
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("export {}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Export { path: PathBuf, line: Option<usize>, message: String },
    #[error("destination {destination}: {message}")]
    Destination { destination: String, message: String },
}

impl LocalError {
    pub(crate) fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        LocalError::Io { path: path.into(), cause }
    }
}
