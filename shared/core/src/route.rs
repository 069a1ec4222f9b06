//! The routing matrix: severity (or `rejected`) to logical destinations, and
//! what each destination is (a Slack channel or a list of addresses).

use std::collections::BTreeMap;

use crate::config::DestinationSpec;
use crate::model::Severity;

/// The kind of a logical destination, from its `slack:` or `email:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Slack,
    Email,
}

impl Channel {
    /// The channel of a destination name such as `slack:compliance-high`.
    pub fn of(destination: &str) -> Option<Channel> {
        match destination.split_once(':') {
            Some(("slack", rest)) if !rest.is_empty() => Some(Channel::Slack),
            Some(("email", rest)) if !rest.is_empty() => Some(Channel::Email),
            _ => None,
        }
    }
}

/// Row names of the matrix besides the four severities.
pub const REJECTED_ROW: &str = "rejected";

/// The compiled matrix.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// Indexed by `Severity as usize`; the last row is `rejected`.
    rows: [Vec<String>; 5],
}

impl Routing {
    pub(crate) fn compile(
        matrix: &BTreeMap<String, Vec<String>>,
        destinations: &BTreeMap<String, DestinationSpec>,
        issue: &mut dyn FnMut(String, String),
    ) -> Routing {
        let mut rows: [Vec<String>; 5] = Default::default();
        for (row, names) in matrix {
            let slot = match Severity::from_hint(row) {
                Some(severity) if row == severity.as_str() => severity as usize,
                _ if row == REJECTED_ROW => 4,
                _ => {
                    issue(
                        format!("routing.{row}"),
                        "is not critical, high, medium, low or rejected".into(),
                    );
                    continue;
                }
            };
            for name in names {
                match (Channel::of(name), destinations.get(name)) {
                    (None, _) => issue(
                        format!("routing.{row}"),
                        format!("{name:?} is not `slack:<channel>` or `email:<list>`"),
                    ),
                    (Some(_), None) => issue(
                        format!("routing.{row}"),
                        format!("{name:?} has no [destinations.\"{name}\"] table"),
                    ),
                    (Some(Channel::Email), Some(spec)) if spec.addresses.is_empty() => issue(
                        format!("destinations.{name}"),
                        "an e-mail destination needs `addresses`".into(),
                    ),
                    (Some(Channel::Slack), Some(spec))
                        if spec.webhook_secret.is_none() && spec.webhook_env.is_none() =>
                    {
                        issue(
                            format!("destinations.{name}"),
                            "a Slack destination needs `webhook_secret` or `webhook_env`".into(),
                        )
                    }
                    _ => {}
                }
            }
            rows[slot] = names.clone();
        }
        for (slot, row) in rows.iter().enumerate() {
            if row.is_empty() {
                let name = Severity::ALL.get(slot).map_or(REJECTED_ROW, |s| s.as_str());
                issue(
                    format!("routing.{name}"),
                    "every row needs at least one destination, or alerts would be routed nowhere"
                        .into(),
                );
            }
        }
        Routing { rows }
    }

    /// Destinations of an alert of `severity`, or of a rejected one (`None`).
    pub fn destinations(&self, severity: Option<Severity>) -> &[String] {
        match severity {
            Some(severity) => &self.rows[severity as usize],
            None => &self.rows[4],
        }
    }
}
