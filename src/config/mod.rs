//! Configuration: the file (clusters, MM2 deployments, classification,
//! timing) and the judgement settings derived from it.

mod actions;
mod file;
mod fingerprint;
mod secret;
mod settings;
#[cfg(test)]
mod tests;

pub use actions::{
    AppsBackend, Commands, ConnectEndpoint, Mm2Actions, Mm2Backend, StopMeans, secrets as action_secrets,
};
pub use file::{
    CANARY_RECORDS_KEPT, CANARY_TOPIC, CanaryConfig, ClusterConfig, Config, ConfigError, DRILL_TOPIC, KubeConfig,
    LEASE_TIMEOUT, Mm2Config, Mm2Flavour, Timing, WorkloadPick, WorkloadRef, load, parse,
};
pub use fingerprint::{fingerprint, settings_fingerprint};
pub use secret::{Secret, SecretRef};
pub use settings::{Classification, HeartbeatMode, Settings};

use std::path::PathBuf;

/// `$XDG_CONFIG_HOME/kdrill/kdrill.toml`, else `~/.config/kdrill/kdrill.toml`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("kdrill").join("kdrill.toml"))
}

/// `$XDG_STATE_HOME/kdrill`, else `~/.local/state/kdrill`: where journals live.
pub fn state_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))?;
    Some(base.join("kdrill"))
}
