//! Small text formatters: every number leaves here with its unit.

use crate::assess::{Freshness, fmt_age};
use crate::model::{Ts, age_secs};

/// `12:00:05` (UTC, as every stamp on screen).
pub fn clock(t: Ts) -> String {
    t.format("%H:%M:%S").to_string()
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1,234 rec`, or `? rec` when unknown.
pub fn records(n: Option<i64>) -> String {
    match n {
        Some(n) if n < 0 => format!("-{} rec", thousands(n.unsigned_abs())),
        Some(n) => format!("{} rec", thousands(n as u64)),
        None => "? rec".into(),
    }
}

/// Records in at most 10 columns: `12,345 rec`, `123.4k rec`, `12.3M rec`,
/// or `? rec`.
pub fn records_compact(n: Option<i64>) -> String {
    match n {
        Some(n) if n.unsigned_abs() >= 10_000_000 => format!("{:.1}M rec", n as f64 / 1e6),
        Some(n) if n.unsigned_abs() >= 100_000 => format!("{:.1}k rec", n as f64 / 1e3),
        n => records(n),
    }
}

/// `52.0 rec/s`, `1.2k rec/s`, or `? rec/s`.
pub fn rate(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 10_000.0 => format!("{:.1}k rec/s", r / 1000.0),
        Some(r) => format!("{r:.1} rec/s"),
        None => "? rec/s".into(),
    }
}

/// A duration in seconds as lag: `0 s`, `3.2 s`, `4 m 05 s`, or `? s`.
pub fn seconds(s: Option<f64>) -> String {
    match s {
        Some(s) if s < 10.0 && s > 0.0 => format!("{s:.1} s"),
        Some(s) if s < 1.0 => "0 s".into(),
        Some(s) => fmt_age(s),
        None => "? s".into(),
    }
}

/// A latency: `340 ms` below a second, `1.2 s` below ten, then as an age;
/// `? ms` when unknown.
pub fn latency(s: Option<f64>) -> String {
    match s {
        Some(s) if s < 1.0 => format!("{:.0} ms", (s * 1000.0).max(0.0)),
        Some(s) if s < 10.0 => format!("{s:.1} s"),
        Some(s) => fmt_age(s),
        None => "? ms".into(),
    }
}

/// `3 s ago`, or `never` / `? ago`.
pub fn ago(at: Option<Ts>, now: Ts) -> String {
    match at {
        Some(at) => format!("{} ago", fmt_age(age_secs(at, now))),
        None => "never observed".into(),
    }
}

/// An age already in seconds: `12 s`, or `none seen`.
pub fn age(secs: Option<f64>) -> String {
    secs.map_or_else(|| "none seen".into(), fmt_age)
}

/// `data 2 s ago`, `STALE 40 s`, `never observed`.
pub fn freshness(f: Freshness) -> String {
    match f {
        Freshness::Fresh { age } => format!("{} ago", fmt_age(age)),
        Freshness::Stale { age } => format!("STALE {}", fmt_age(age)),
        Freshness::Never => "never observed".into(),
    }
}

/// Cuts `s` to at most `width` characters, marking the cut with `…`.
pub fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_carry_units_and_unknown_is_a_question_mark() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(records(Some(1200)), "1,200 rec");
        assert_eq!(records(None), "? rec");
        assert_eq!(rate(None), "? rec/s");
        assert_eq!(rate(Some(52.04)), "52.0 rec/s");
        assert_eq!(seconds(None), "? s");
        assert_eq!(seconds(Some(0.0)), "0 s");
        assert_eq!(seconds(Some(3.21)), "3.2 s");
        assert_eq!(seconds(Some(75.0)), "1 m 15 s");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(clip("abc", 0), "");
    }
}
