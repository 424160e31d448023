use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A point in time. Sources stamp facts with it; the demo world uses a
/// virtual clock, so nothing in the model reads the system clock.
pub type Ts = DateTime<Utc>;

/// A value together with the moment it was observed. Absence of an
/// `Observed` (an `Option::None` around it) means "never seen": unknown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observed<T> {
    pub value: T,
    pub at: Ts,
}

impl<T> Observed<T> {
    pub fn new(value: T, at: Ts) -> Self {
        Observed { value, at }
    }

    /// Seconds elapsed between the observation and `now` (never negative).
    pub fn age_secs(&self, now: Ts) -> f64 {
        age_secs(self.at, now)
    }
}

/// Seconds from `at` to `now`, clamped at zero for clocks slightly apart.
pub fn age_secs(at: Ts, now: Ts) -> f64 {
    ((now - at).num_milliseconds() as f64 / 1000.0).max(0.0)
}
