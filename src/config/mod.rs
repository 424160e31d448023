//! Configuration: the settings that steer judgement.

mod settings;

pub use settings::{Classification, HeartbeatMode, Settings};
