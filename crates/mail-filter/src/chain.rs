//! The chain: filters in order, each with its failure policy.

use crate::{
    Clamd, ClamdConfig, Command, CommandConfig, Filter, FilterError, HeaderRule, HeaderRuleConfig,
    MessageInfo, Rspamd, RspamdConfig, SizeLimit, Verdict,
};
use serde::Deserialize;
use std::fmt;
use std::path::Path;

pub(crate) fn default_timeout_ms() -> u64 {
    15_000
}

pub(crate) fn default_connect_timeout_ms() -> u64 {
    2_000
}

/// What a filter's failure (scanner down, slow, or talking nonsense) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Go on as if it had accepted, adding a header that names the failed
    /// filter (the default: mail keeps flowing when a scanner is down).
    #[default]
    Accept,
    /// Refuse for now: `451 4.7.1`; the sender retries later.
    Tempfail,
}

/// `kind = "size"`: the largest message accepted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeConfig {
    /// Messages above this many bytes are rejected with `552 5.3.4`.
    pub max_bytes: u64,
}

/// One filter of `[[filters.chain]]`, told apart by `kind`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FilterConfig {
    /// [`SizeLimit`].
    Size(SizeConfig),
    /// [`HeaderRule`].
    Header(HeaderRuleConfig),
    /// [`Rspamd`].
    Rspamd(RspamdConfig),
    /// [`Clamd`].
    Clamd(ClamdConfig),
    /// [`Command`].
    Command(CommandConfig),
}

/// The server's `[filters]` table.
///
/// ```toml
/// [filters]
/// on_failure = "accept"            # or "tempfail": the default policy
///
/// [[filters.chain]]
/// kind = "size"
/// max_bytes = 26214400
///
/// [[filters.chain]]
/// kind = "clamd"
/// address = "127.0.0.1:3310"
/// on_failure = "tempfail"
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiltersConfig {
    /// The filters, run in this order.
    #[serde(default)]
    pub chain: Vec<FilterConfig>,
    /// The policy of filters that name none.
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// The header added when a failed filter is passed over (default
    /// `X-Mailwire-Filter-Failed`); its value names the filter and why.
    #[serde(default)]
    pub failure_header: Option<String>,
}

/// What the chain decided, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterOutcome {
    /// The verdict for the message. When it accepts or quarantines, its
    /// headers are those of every filter that ran, in order.
    pub verdict: Verdict,
    /// The filter whose reject, quarantine or temporary failure decided;
    /// `None` when every filter accepted.
    pub decided_by: Option<String>,
    /// Each filter that ran and what it said: `accept`, `reject`,
    /// `quarantine`, `tempfail`, or `failed` (its policy then applied).
    pub per_filter: Vec<(String, &'static str)>,
}

struct Entry {
    filter: Box<dyn Filter>,
    on_failure: FailurePolicy,
}

/// Filters run in order at the end of DATA.
pub struct FilterChain {
    entries: Vec<Entry>,
    failure_header: String,
}

impl fmt::Debug for FilterChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilterChain")
            .field(
                "filters",
                &self
                    .entries
                    .iter()
                    .map(|e| e.filter.name())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for FilterChain {
    fn default() -> Self {
        FilterChain::new()
    }
}

impl FilterChain {
    /// An empty chain: every message is accepted.
    pub fn new() -> FilterChain {
        FilterChain {
            entries: Vec::new(),
            failure_header: "X-Mailwire-Filter-Failed".into(),
        }
    }

    /// The chain `config` describes; a bad pattern, URL or header name is a
    /// [`FilterError::Config`].
    pub fn from_config(config: &FiltersConfig) -> Result<FilterChain, FilterError> {
        let mut chain = FilterChain::new();
        if let Some(header) = &config.failure_header {
            if !crate::verdict::valid_header_name(header) {
                return Err(FilterError::Config(format!(
                    "failure_header {header:?} is not a header field name"
                )));
            }
            chain.failure_header = header.clone();
        }
        for filter in &config.chain {
            let (boxed, policy): (Box<dyn Filter>, Option<FailurePolicy>) = match filter {
                FilterConfig::Size(size) => (Box::new(SizeLimit::new(size.max_bytes)), None),
                FilterConfig::Header(rule) => (Box::new(HeaderRule::new(rule)?), None),
                FilterConfig::Rspamd(rspamd) => {
                    (Box::new(Rspamd::new(rspamd.clone())?), rspamd.on_failure)
                }
                FilterConfig::Clamd(clamd) => {
                    (Box::new(Clamd::new(clamd.clone())), clamd.on_failure)
                }
                FilterConfig::Command(command) => {
                    (Box::new(Command::new(command.clone())?), command.on_failure)
                }
            };
            chain.push(boxed, policy.unwrap_or(config.on_failure));
        }
        Ok(chain)
    }

    /// Adds `filter` at the end, with its failure policy.
    pub fn push(&mut self, filter: Box<dyn Filter>, on_failure: FailurePolicy) -> &mut FilterChain {
        self.entries.push(Entry { filter, on_failure });
        self
    }

    /// How many filters there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The filters' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.filter.name())
    }

    /// Runs the filters in order on the stored `message`. The first reject,
    /// quarantine or temporary failure ends the run; headers that accepting
    /// filters add accumulate. A filter's failure follows its policy.
    pub fn run(&self, info: &MessageInfo, message: &Path) -> FilterOutcome {
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut per_filter = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let name = entry.filter.name().to_owned();
            let verdict = match entry.filter.check(info, message) {
                Ok(verdict) => {
                    per_filter.push((name.clone(), verdict.name()));
                    verdict
                }
                Err(error) => {
                    tracing::warn!(
                        queue_id = %info.queue_id,
                        filter = %name,
                        policy = ?entry.on_failure,
                        "filter failed: {error}"
                    );
                    per_filter.push((name.clone(), "failed"));
                    match entry.on_failure {
                        FailurePolicy::Accept => Verdict::Accept {
                            add_headers: vec![(
                                self.failure_header.clone(),
                                crate::sanitize_text(&format!("{name}; {}", error.kind())),
                            )],
                        },
                        FailurePolicy::Tempfail => Verdict::tempfail(format!(
                            "message could not be checked ({name} unavailable), try again later"
                        )),
                    }
                }
            };
            match verdict {
                Verdict::Accept { add_headers } => headers.extend(add_headers),
                Verdict::Quarantine {
                    reason,
                    add_headers,
                } => {
                    headers.extend(add_headers);
                    return FilterOutcome {
                        verdict: Verdict::Quarantine {
                            reason,
                            add_headers: headers,
                        },
                        decided_by: Some(name),
                        per_filter,
                    };
                }
                refusal => {
                    return FilterOutcome {
                        verdict: refusal,
                        decided_by: Some(name),
                        per_filter,
                    }
                }
            }
        }
        FilterOutcome {
            verdict: Verdict::Accept {
                add_headers: headers,
            },
            decided_by: None,
            per_filter,
        }
    }
}
