//! How drill actions are carried out: per side, how applications are
//! stopped and started (scaling their Kubernetes workloads, or configured
//! commands); per MM2 deployment, through its Kubernetes resource, its
//! Kafka Connect REST API or commands, and what "stopped" means for it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::secret::{Secret, SecretRef};

/// A stop and a start command (argv, run without a shell).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCommands {
    stop: Vec<String>,
    start: Vec<String>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commands {
    pub stop: Vec<String>,
    pub start: Vec<String>,
    pub timeout: Duration,
}

/// How one side's applications are stopped and started.
#[derive(Clone, Debug, PartialEq)]
pub enum AppsBackend {
    /// Scale the side's declared workloads to 0 and back.
    Kube,
    Command(Commands),
    /// Nothing configured: the step is done by hand and observed.
    None,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum Mm2BackendName {
    Kube,
    Connect,
    Command,
}

/// What "MM2 stopped" means for one deployment.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StopMeans {
    /// No worker and no pod (the runbook's "no MM2 pod anywhere"); its
    /// connectors are stopped first, so they come back stopped.
    Workers,
    /// Every connector STOPPED; the workers keep running.
    Connectors,
}

/// How one MM2 deployment is stopped and started.
#[derive(Clone, Debug, PartialEq)]
pub enum Mm2Backend {
    /// Strimzi's `KafkaMirrorMaker2` on the Kubernetes of the side it runs on.
    Kube,
    /// The Kafka Connect REST API of its workers.
    Connect(ConnectEndpoint),
    Command(Commands),
    None,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mm2Actions {
    pub backend: Mm2Backend,
    pub stop_means: StopMeans,
    /// Workers to start with when no earlier count was recorded.
    pub replicas: Option<u32>,
    /// Before starting, set the flow's source offsets to where the opposite
    /// flow's mirrored data ends (nothing copied back).
    pub set_start_offsets: bool,
}

/// The `[[mm2]]` keys this module resolves.
pub(super) struct RawMm2Actions<'a> {
    pub backend: Option<Mm2BackendName>,
    pub stop_means: Option<StopMeans>,
    pub replicas: Option<u32>,
    pub connect_user: Option<String>,
    pub connect_password: Option<SecretRef>,
    pub connect_ca_file: Option<PathBuf>,
    pub commands: Option<&'a RawCommands>,
    pub set_start_offsets: Option<bool>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

pub(super) fn commands(key: &str, raw: &RawCommands) -> Result<Commands, String> {
    for (name, argv) in [("stop", &raw.stop), ("start", &raw.start)] {
        if argv.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(format!(
                "{key}.{name}: expected a command as a list, e.g. [\"/usr/local/bin/apps\", \"{name}\"]"
            ));
        }
    }
    let timeout = raw.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if timeout.is_zero() {
        return Err(format!("{key}.timeout: expected a positive duration like \"2m\""));
    }
    Ok(Commands { stop: raw.stop.clone(), start: raw.start.clone(), timeout })
}

/// Resolves an `[[mm2]]` entry's action keys. `key` is `mm2[i]`.
pub(super) fn mm2_actions(
    key: &str,
    raw: &RawMm2Actions<'_>,
    connect_url: Option<&str>,
    has_kube: bool,
) -> Result<Mm2Actions, String> {
    let name = raw.backend.or(if has_kube {
        Some(Mm2BackendName::Kube)
    } else if connect_url.is_some() {
        Some(Mm2BackendName::Connect)
    } else if raw.commands.is_some() {
        Some(Mm2BackendName::Command)
    } else {
        None
    });
    let backend = match name {
        None => Mm2Backend::None,
        Some(Mm2BackendName::Kube) if !has_kube => {
            return Err(format!(
                "{key}.backend: \"kube\" needs the kube_context of the side this MM2 runs on (clusters.<side>.kube_context)"
            ));
        }
        Some(Mm2BackendName::Kube) => Mm2Backend::Kube,
        Some(Mm2BackendName::Connect) => {
            let Some(url) = connect_url else {
                return Err(format!("{key}.connect_url: missing; backend \"connect\" needs the Connect REST URL"));
            };
            let password = match &raw.connect_password {
                Some(r) => Some(r.resolve().map_err(|e| format!("{key}.connect_password: {e}"))?),
                None => None,
            };
            let basic_auth = match (&raw.connect_user, password) {
                (Some(u), Some(p)) => Some((u.clone(), p)),
                (None, None) => None,
                (Some(_), None) => return Err(format!("{key}.connect_password: missing; connect_user needs it")),
                (None, Some(_)) => return Err(format!("{key}.connect_user: missing; connect_password needs it")),
            };
            Mm2Backend::Connect(ConnectEndpoint {
                base_url: url.trim_end_matches('/').to_owned(),
                basic_auth,
                ca_file: raw.connect_ca_file.clone(),
            })
        }
        Some(Mm2BackendName::Command) => match &raw.commands {
            Some(c) => Mm2Backend::Command(commands(&format!("{key}.commands"), c)?),
            None => return Err(format!("{key}.commands: missing; backend \"command\" needs stop and start commands")),
        },
    };
    let stop_means = match (raw.stop_means, &backend) {
        (Some(StopMeans::Workers), Mm2Backend::Connect(_)) => {
            return Err(format!(
                "{key}.stop_means: the connect backend can stop connectors, not workers; use \"connectors\", or backend \"kube\" or \"command\""
            ));
        }
        (Some(s), _) => s,
        (None, Mm2Backend::Connect(_)) => StopMeans::Connectors,
        (None, _) => StopMeans::Workers,
    };
    if raw.replicas == Some(0) {
        return Err(format!("{key}.replicas: expected the number of workers to start (at least 1)"));
    }
    Ok(Mm2Actions {
        backend,
        stop_means,
        replicas: raw.replicas,
        set_start_offsets: raw.set_start_offsets.unwrap_or(true),
    })
}

impl Mm2Actions {
    /// No backend: actions are done by hand and observed.
    pub fn none() -> Mm2Actions {
        Mm2Actions {
            backend: Mm2Backend::None,
            stop_means: StopMeans::Workers,
            replicas: None,
            set_start_offsets: true,
        }
    }
}

/// Every secret the action backends hold, to keep them out of command output.
pub fn secrets<'a>(mm2: impl Iterator<Item = &'a Mm2Actions>) -> Vec<Secret> {
    mm2.filter_map(|m| match &m.backend {
        Mm2Backend::Connect(e) => e.basic_auth.as_ref().map(|(_, p)| p.clone()),
        _ => None,
    })
    .collect()
}

/// How to reach a Kafka Connect REST API.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectEndpoint {
    /// `http://host:8083` or `https://…`, no trailing slash.
    pub base_url: String,
    /// Basic authentication: user name and password (never shown).
    pub basic_auth: Option<(String, Secret)>,
    /// A PEM file of CAs to trust for `https` (default: the system's).
    pub ca_file: Option<PathBuf>,
}
