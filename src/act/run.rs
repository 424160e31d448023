//! Carries out a procedure: its requests one after the other, exactly as
//! previewed, stopping at the first that fails (nothing after a failure is
//! sent). The outcome lists every answer; values read before a change are
//! recorded under `plan::record_key`, for the journal.

use std::time::Duration;

use chrono::Utc;

use super::kube::KubeClients;
use super::plan::record_key;
use super::{Procedure, Request, RequestResult, command, connect};
use crate::action::Outcome;
use crate::config::Secret;

/// What the executor keeps between procedures.
pub struct Executor {
    kube: KubeClients,
    request_timeout: Duration,
    /// Secrets a command's output must not show.
    redact: Vec<Secret>,
}

impl Executor {
    pub fn new(request_timeout: Duration, redact: Vec<Secret>) -> Executor {
        Executor { kube: KubeClients::default(), request_timeout, redact }
    }

    pub async fn run(&mut self, procedure: Procedure) -> Outcome {
        let Procedure { action, requests, .. } = procedure;
        if requests.is_empty() {
            let text = format!("kdrill has no request to {}: nothing was sent", action.label());
            return Outcome::new(action, Err(text), Utc::now());
        }
        let total = requests.len();
        let mut results = Vec::with_capacity(total);
        for (i, request) in requests.iter().enumerate() {
            let mut result = self.send(request).await;
            if let Request::Kube(k) = request {
                // Keyed by side too: the two sides hold objects of one name.
                result.recorded = std::mem::take(&mut result.recorded)
                    .into_iter()
                    .map(|(key, v)| {
                        let (path, pointer) = key.split_once('#').unwrap_or((key.as_str(), ""));
                        (record_key(k.target.side, path, pointer), v)
                    })
                    .collect();
            }
            let ok = result.ok;
            results.push(result);
            if !ok {
                let failed = results.last().map(|r| r.detail.clone()).unwrap_or_default();
                let text = if total == 1 {
                    failed
                } else {
                    format!("request {} of {total} failed ({} not sent): {failed}", i + 1, total - i - 1)
                };
                return Outcome { action, result: Err(text), at: Utc::now(), results };
            }
        }
        let last = results.last().map(|r| r.detail.clone()).unwrap_or_default();
        let text = if total == 1 { last } else { format!("{total} requests done; last: {last}") };
        Outcome { action, result: Ok(text), at: Utc::now(), results }
    }

    async fn send(&mut self, request: &Request) -> RequestResult {
        match request {
            Request::Kube(k) => self.kube.send(k, self.request_timeout).await,
            Request::Connect(c) => connect::send(c, self.request_timeout).await,
            Request::Command(c) => command::run(c, &self.redact).await,
        }
    }
}
