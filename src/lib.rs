//! kdrill: a terminal console for Kafka DC–DR pairs replicated by
//! MirrorMaker 2. Data flows one way:
//!
//! `collect` (sources own their clients and push snapshots) → `model` (plain
//! data) → `assess` (pure judgement: roles, lag, rules, gates) → `drill`
//! (pure state machine over an append-only event journal) → `ui` (draws
//! state only); `report` turns a drill's journal into its report. The
//! `demo` world sits behind the same seam as real clusters.

pub mod act;
pub mod action;
pub mod assess;
pub mod check;
pub mod collect;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod drill;
pub mod model;
pub mod report;
pub mod serve;
pub mod share;
pub mod ui;
