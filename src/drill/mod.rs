//! The drill wizard's brain: plans as data, a pure state machine over an
//! append-only event list, and the journal that makes it durable.

mod engine;
mod evidence;
pub mod journal;
mod plan;

pub use engine::{Drill, DrillEvent, DrillView, StepState, StepView};
pub use evidence::{Evidence, TopicLag, topic_lag};
pub use plan::{DEFAULT_PREFLIGHT_LAG, OVERRIDE_WORD, Plan, PlanKind, Step};
