//! Demo faults switched on (or off) at set moments, for rehearsing on a
//! demo world nobody types into: `kdrill serve --demo --demo-fault 30s:stall-mm2`.

use std::str::FromStr;
use std::time::Duration;

use crate::action::Fault;

/// A fault toggled `after` the world starts (world time, which follows
/// real time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledFault {
    pub after: Duration,
    pub fault: Fault,
}

impl FromStr for ScheduledFault {
    type Err = String;

    /// `AFTER:FAULT`, e.g. `30s:fail-mm2-task`.
    fn from_str(s: &str) -> Result<ScheduledFault, String> {
        let names = || Fault::ALL.map(Fault::as_str).join(", ");
        let (after, name) =
            s.split_once(':').ok_or_else(|| format!("give AFTER:FAULT, e.g. 30s:{}", Fault::StallMm2.as_str()))?;
        let after = humantime::parse_duration(after).map_err(|e| format!("{after}: {e}"))?;
        let fault = Fault::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| format!("{name}: no such fault; one of {}", names()))?;
        Ok(ScheduledFault { after, fault })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_names_when_and_which_fault() {
        assert_eq!(
            "1m30s:cut-off-dc".parse(),
            Ok(ScheduledFault { after: Duration::from_secs(90), fault: Fault::CutOffDc })
        );
        assert!("cut-off-dc".parse::<ScheduledFault>().is_err());
        assert!("5s:no-such".parse::<ScheduledFault>().is_err_and(|e| e.contains("stall-mm2")));
        assert!("soon:stall-mm2".parse::<ScheduledFault>().is_err());
    }
}
