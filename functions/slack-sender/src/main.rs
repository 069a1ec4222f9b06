//! Lambda entry point of the slack sender: logging, AWS config and adapters
//! once per cold start, then the runtime loop.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use triage_aws::{Clients, Role, Settings};
use triage_slack_sender::SlackSender;

#[tokio::main]
async fn main() -> Result<(), Error> {
    triage_aws::init_json_logs();
    let settings = Settings::from_env(Role::SlackSender)?;
    let sdk = aws_config::load_from_env().await;
    let app = SlackSender::from_settings(&settings, &Clients::new(&sdk))?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(triage_slack_sender::handle(app, event.payload).await)
    }))
    .await
}
