//! The embedded default: the core pipeline over a folder of drops, with
//! SQLite for dedup and the audit trail and dry-run (or Slack webhook)
//! delivery, so the whole job runs on one machine without AWS.

mod deliver;
mod drops;
mod error;
mod export;
mod legacy;
mod run;
pub mod store;

pub use deliver::{DryRun, Notifier, SlackWebhooks};
pub use drops::find_drops;
pub use error::LocalError;
pub use export::report_from_export;
pub use legacy::{LegacyImport, import_legacy};
pub use run::{Progress, RunOptions, deliver_pending, run};
pub use store::{DeliveryTask, Store};
