//! Which pane goes where, for any terminal size. Panes ask for a minimum
//! and a wish in rows; they are served in priority order (the focused pane
//! first), and a pane whose minimum no longer fits is hidden rather than
//! drawn broken.

use ratatui::layout::{Constraint, Layout, Rect};

/// The panes of the console, in Tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Drill,
    Mm2,
    Lag,
    Dc,
    Dr,
    Log,
}

impl Pane {
    pub const ALL: [Pane; 6] = [Pane::Drill, Pane::Mm2, Pane::Lag, Pane::Dc, Pane::Dr, Pane::Log];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }

    pub fn name(self) -> &'static str {
        match self {
            Pane::Drill => "drill",
            Pane::Mm2 => "MM2",
            Pane::Lag => "lag",
            Pane::Dc => "DC",
            Pane::Dr => "DR",
            Pane::Log => "event log",
        }
    }
}

/// A pane's claim on rows.
#[derive(Clone, Copy, Debug)]
pub struct Claim {
    pub pane: Pane,
    pub min: u16,
    pub want: u16,
}

/// Stacks claims top to bottom in `area`, in the order given. Minimums go
/// to the focused pane first, then in the order of `priority`; wishes are
/// then served in priority order; the last pane shown takes what is left.
pub fn stack(area: Rect, claims: &[Claim], priority: &[Pane], focus: Pane) -> Vec<(Pane, Rect)> {
    let mut order: Vec<usize> = Vec::with_capacity(claims.len());
    let rank = |p: Pane| if p == focus { 0 } else { 1 + priority.iter().position(|&q| q == p).unwrap_or(99) };
    order.extend(0..claims.len());
    order.sort_by_key(|&i| rank(claims[i].pane));

    let mut rows = vec![0u16; claims.len()];
    let mut left = area.height;
    for &i in &order {
        if claims[i].min <= left {
            rows[i] = claims[i].min;
            left -= claims[i].min;
        }
    }
    // Beyond the minimums, rows go in priority order: focus only decides
    // what is shown, not what grows.
    order.sort_by_key(|&i| 1 + priority.iter().position(|&q| q == claims[i].pane).unwrap_or(99));
    for &i in &order {
        if rows[i] > 0 {
            let more = claims[i].want.saturating_sub(rows[i]).min(left);
            rows[i] += more;
            left -= more;
        }
    }
    if let Some(last) = (0..claims.len()).rev().find(|&i| rows[i] > 0) {
        rows[last] += left;
    }
    let shown: Vec<usize> = (0..claims.len()).filter(|&i| rows[i] > 0).collect();
    let rects = Layout::vertical(shown.iter().map(|&i| Constraint::Length(rows[i]))).split(area);
    shown.iter().zip(rects.iter()).map(|(&i, r)| (claims[i].pane, *r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(pane: Pane, min: u16, want: u16) -> Claim {
        Claim { pane, min, want }
    }

    #[test]
    fn hides_what_does_not_fit_and_serves_focus_first() {
        let area = Rect::new(0, 0, 40, 10);
        let claims = [c(Pane::Drill, 4, 8), c(Pane::Mm2, 4, 6), c(Pane::Lag, 4, 20)];
        let prio = [Pane::Drill, Pane::Mm2, Pane::Lag];
        let got = stack(area, &claims, &prio, Pane::Drill);
        assert_eq!(got.iter().map(|(p, r)| (*p, r.height)).collect::<Vec<_>>(), [(Pane::Drill, 6), (Pane::Mm2, 4)]);
        let got = stack(area, &claims, &prio, Pane::Lag);
        assert_eq!(got.iter().map(|(p, r)| (*p, r.height)).collect::<Vec<_>>(), [(Pane::Drill, 6), (Pane::Lag, 4)]);
        assert!(stack(Rect::new(0, 0, 5, 1), &claims, &prio, Pane::Log).is_empty());
    }
}
