//! A fingerprint of the configuration's non-secret parts, recorded when a
//! drill starts: two drills with the same fingerprint ran with the same
//! clusters, deployments and settings. Secret values never enter it (only
//! the names of the properties they fill), so it cannot leak or confirm one.

use super::file::Config;
use super::settings::Settings;

/// `fnv1a64:` and 16 hex digits, stable across runs and platforms.
pub fn fingerprint(cfg: &Config) -> String {
    let mut text = String::new();
    for c in &cfg.clusters {
        text.push_str(&format!("cluster {} alias={} bootstrap={}\n", c.side, c.alias, c.bootstrap));
        for (k, v) in &c.properties {
            text.push_str(&format!("  {k}={v}\n"));
        }
        for k in c.secrets.keys() {
            text.push_str(&format!("  {k}=<secret>\n"));
        }
        if let Some(k) = &c.kube {
            text.push_str(&format!("  kube={k:?}\n"));
        }
        text.push_str(&format!("  apps={:?}\n", c.apps));
    }
    for m in &cfg.mm2 {
        text.push_str(&format!("{m:?}\n"));
    }
    text.push_str(&format!("{:?}\n", cfg.timing));
    settings_fingerprint(&cfg.settings, &text)
}

/// The fingerprint of `settings` and a description of where observations
/// come from (the demo world has no configuration file).
pub fn settings_fingerprint(settings: &Settings, source: &str) -> String {
    // Debug output of the settings: no secret lives there, and every field
    // added later is covered without touching this.
    let text = format!("{source}\n{settings:?}\n");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{hash:016x}")
}
