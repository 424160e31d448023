use crate::model::{Ts, age_secs};

/// A judgement that may not be knowable. Gates open on `Yes`/`No` only when
/// observed; `Unknown` always carries why and always blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Truth {
    Yes,
    No,
    Unknown(String),
}

impl Truth {
    pub fn from_bool(b: bool) -> Truth {
        if b { Truth::Yes } else { Truth::No }
    }

    pub fn is_yes(&self) -> bool {
        matches!(self, Truth::Yes)
    }

    pub fn is_no(&self) -> bool {
        matches!(self, Truth::No)
    }

    /// Logical OR where a known `Yes` wins over unknowns.
    pub fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::Yes, _) | (_, Truth::Yes) => Truth::Yes,
            (Truth::No, Truth::No) => Truth::No,
            (Truth::Unknown(r), _) | (_, Truth::Unknown(r)) => Truth::Unknown(r),
        }
    }

    pub fn negate(self) -> Truth {
        match self {
            Truth::Yes => Truth::No,
            Truth::No => Truth::Yes,
            u => u,
        }
    }
}

/// How current an observation is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Freshness {
    Fresh { age: f64 },
    Stale { age: f64 },
    Never,
}

impl Freshness {
    pub fn of(at: Option<Ts>, now: Ts, stale_after: chrono::TimeDelta) -> Freshness {
        match at {
            None => Freshness::Never,
            Some(at) => {
                let age = age_secs(at, now);
                if age * 1000.0 <= stale_after.num_milliseconds() as f64 {
                    Freshness::Fresh { age }
                } else {
                    Freshness::Stale { age }
                }
            }
        }
    }

    pub fn is_fresh(self) -> bool {
        matches!(self, Freshness::Fresh { .. })
    }

    /// Why this observation cannot be trusted, if it cannot.
    pub fn problem(self, what: &str) -> Option<String> {
        match self {
            Freshness::Fresh { .. } => None,
            Freshness::Stale { age } => Some(format!("{what} stale ({})", fmt_age(age))),
            Freshness::Never => Some(format!("{what} never observed")),
        }
    }
}

/// A compact age: `850 ms`, `12 s`, `4 m 05 s`, `2 h 10 m`.
pub fn fmt_age(secs: f64) -> String {
    if secs < 1.0 {
        format!("{} ms", (secs * 1000.0).round() as i64)
    } else if secs < 60.0 {
        format!("{} s", secs.floor() as i64)
    } else if secs < 3600.0 {
        let s = secs.floor() as i64;
        format!("{} m {:02} s", s / 60, s % 60)
    } else {
        let m = (secs / 60.0).floor() as i64;
        format!("{} h {:02} m", m / 60, m % 60)
    }
}
