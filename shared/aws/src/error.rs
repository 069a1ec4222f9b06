//! The one error type of the AWS adapters. SDK errors are converted here, at
//! the edge, into a message and a retryable flag, so no SDK type reaches the
//! core or the function handlers.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Service error codes that mean "try again later".
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "KMSThrottlingException",
];

/// What went wrong in an adapter.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("environment variable {name} is not set: {hint}")]
    MissingEnv { name: &'static str, hint: &'static str },

    #[error("environment variable {name} is invalid: {message}")]
    InvalidEnv { name: &'static str, message: String },

    /// A call to an AWS service failed.
    #[error("{service} {operation} failed: {message}")]
    Service { service: &'static str, operation: &'static str, message: String, retryable: bool },

    /// The triage config could not be loaded or is invalid.
    #[error("config {location}: {message}")]
    Config { location: String, message: String },

    /// A Slack webhook did not take the message. Never contains the URL.
    #[error("slack {destination}: {message}")]
    Slack { destination: String, message: String, retryable: bool },

    /// A queue message or stored item does not have the expected shape.
    #[error("{what}: {message}")]
    Malformed { what: &'static str, message: String },

    /// A bounded retry loop gave up.
    #[error("{operation}: gave up after {attempts} attempts: {message}")]
    Exhausted { operation: &'static str, attempts: u32, message: String },
}

impl AwsError {
    /// Whether the same call may succeed later (throttling, timeouts, 5xx).
    pub fn retryable(&self) -> bool {
        match self {
            AwsError::Service { retryable, .. } | AwsError::Slack { retryable, .. } => *retryable,
            AwsError::Exhausted { .. } => true,
            AwsError::MissingEnv { .. }
            | AwsError::InvalidEnv { .. }
            | AwsError::Config { .. }
            | AwsError::Malformed { .. } => false,
        }
    }

    /// Converts an SDK error of any service.
    pub fn sdk<E, R>(
        service: &'static str,
        operation: &'static str,
        error: SdkError<E, R>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let retryable = match &error {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(inner) => {
                inner.err().code().is_some_and(|code| RETRYABLE_CODES.contains(&code))
            }
            _ => false,
        };
        let message = match (error.code(), error.message()) {
            (Some(code), Some(text)) => format!("{code}: {text}"),
            (Some(code), None) => code.to_string(),
            _ => DisplayErrorContext(&error).to_string(),
        };
        AwsError::Service { service, operation, message, retryable }
    }
}

/// The error code of an SDK error, if the service sent one.
pub(crate) fn code_of<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    match error {
        SdkError::ServiceError(inner) => inner.err().code(),
        _ => None,
    }
}

pub type Result<T, E = AwsError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_are_not_retryable() {
        let missing = AwsError::MissingEnv { name: "TRIAGE_BUCKET", hint: "the drop bucket" };
        assert!(!missing.retryable());
        assert_eq!(
            missing.to_string(),
            "environment variable TRIAGE_BUCKET is not set: the drop bucket"
        );
        let throttled = AwsError::Service {
            service: "dynamodb",
            operation: "PutItem",
            message: "ThrottlingException".into(),
            retryable: true,
        };
        assert!(throttled.retryable());
    }
}
