//! The drill wizard's brain: plans as data, a pure state machine over an
//! append-only event list, and the journal that makes it durable.

mod engine;
pub mod journal;
mod plan;

pub use engine::{Drill, DrillEvent, DrillView, Evidence, StepState, StepView};
pub use plan::{Plan, PlanKind, Step};
