//! `triage config show|check`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the effective config as TOML (defaults filled in) and its hash.
    Show {
        #[arg(long, env = "TRIAGE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Validate a config file; every error names its key and line.
    Check { file: PathBuf },
}

pub fn run(action: ConfigAction) -> anyhow::Result<ExitCode> {
    match action {
        ConfigAction::Show { config } => {
            let config = crate::load_config(config.as_ref())?;
            println!("# config hash: {}", config.hash);
            print!("{}", config.to_toml());
            Ok(ExitCode::SUCCESS)
        }
        ConfigAction::Check { file } => match crate::load_config(Some(&file)) {
            Ok(config) => {
                println!("{}: ok (hash {})", file.display(), config.hash);
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e:#}");
                Ok(ExitCode::from(1))
            }
        },
    }
}
