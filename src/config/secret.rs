//! Secrets (SASL passwords, tokens) come from an environment variable or a
//! file, never inline, and cannot be printed: `Debug` and `Display` redact.

use std::path::PathBuf;

use serde::Deserialize;

/// Where a secret is read from, as written in the config file.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

/// A secret value. Only `expose` gives it out, for handing to a client.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret obtained some other way (a password read from a file the
    /// configuration names); it gets the same protection.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl SecretRef {
    /// Reads the secret; the error names where it was looked for, never the value.
    pub fn resolve(&self) -> Result<Secret, String> {
        match self {
            SecretRef::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                Ok(_) => Err(format!("environment variable {var} is empty")),
                Err(_) => Err(format!("environment variable {var} is not set")),
            },
            SecretRef::File(path) => match std::fs::read_to_string(path) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim_end_matches(['\n', '\r']).to_owned())),
                Ok(_) => Err(format!("secret file {} is empty", path.display())),
                Err(e) => Err(format!("cannot read secret file {}: {e}", path.display())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
    }

    #[test]
    fn missing_sources_are_named() {
        let e = SecretRef::Env("KDRILL_TEST_SURELY_UNSET_VAR".into()).resolve();
        assert_eq!(e, Err("environment variable KDRILL_TEST_SURELY_UNSET_VAR is not set".into()));
        let f = SecretRef::File("/nonexistent/kdrill/secret".into()).resolve();
        assert!(matches!(f, Err(m) if m.starts_with("cannot read secret file /nonexistent/kdrill/secret")));
    }
}
