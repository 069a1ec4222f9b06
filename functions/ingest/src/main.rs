//! Lambda entry point of ingest: logging, AWS config and adapters once per
//! cold start, then the runtime loop.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::Value;
use triage_aws::{Clients, Role, Settings};
use triage_ingest::Ingest;

#[tokio::main]
async fn main() -> Result<(), Error> {
    triage_aws::init_json_logs();
    let settings = Settings::from_env(Role::Ingest)?;
    let sdk = aws_config::load_from_env().await;
    let app = Ingest::from_settings(&settings, &Clients::new(&sdk)).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        triage_ingest::handle(app, event.payload).await.map_err(|e| Diagnostic {
            error_type: if e.retryable() { "Triage.Retryable" } else { "Triage.Permanent" }.into(),
            error_message: e.to_string(),
        })
    }))
    .await
}
