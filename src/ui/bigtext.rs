//! Large letters for the wall screen: a 3×5 pixel font drawn with full
//! blocks, each pixel `scale` cells wide (two cells make a square pixel on
//! most terminals). Small enough to keep in the tree instead of a crate.

/// Rows of one glyph.
pub const HEIGHT: usize = 5;

fn glyph(c: char) -> [&'static str; HEIGHT] {
    match c.to_ascii_uppercase() {
        'A' => [".#.", "#.#", "###", "#.#", "#.#"],
        'B' => ["##.", "#.#", "##.", "#.#", "##."],
        'C' => [".##", "#..", "#..", "#..", ".##"],
        'D' => ["##.", "#.#", "#.#", "#.#", "##."],
        'E' => ["###", "#..", "##.", "#..", "###"],
        'F' => ["###", "#..", "##.", "#..", "#.."],
        'G' => [".##", "#..", "#.#", "#.#", ".##"],
        'H' => ["#.#", "#.#", "###", "#.#", "#.#"],
        'I' => ["###", ".#.", ".#.", ".#.", "###"],
        'J' => ["..#", "..#", "..#", "#.#", ".#."],
        'K' => ["#.#", "#.#", "##.", "#.#", "#.#"],
        'L' => ["#..", "#..", "#..", "#..", "###"],
        'M' => ["#.#", "###", "###", "#.#", "#.#"],
        'N' => ["##.", "#.#", "#.#", "#.#", "#.#"],
        'O' => [".#.", "#.#", "#.#", "#.#", ".#."],
        'P' => ["##.", "#.#", "##.", "#..", "#.."],
        'Q' => [".#.", "#.#", "#.#", "##.", ".##"],
        'R' => ["##.", "#.#", "##.", "#.#", "#.#"],
        'S' => [".##", "#..", ".#.", "..#", "##."],
        'T' => ["###", ".#.", ".#.", ".#.", ".#."],
        'U' => ["#.#", "#.#", "#.#", "#.#", "###"],
        'V' => ["#.#", "#.#", "#.#", "#.#", ".#."],
        'W' => ["#.#", "#.#", "###", "###", "#.#"],
        'X' => ["#.#", "#.#", ".#.", "#.#", "#.#"],
        'Y' => ["#.#", "#.#", ".#.", ".#.", ".#."],
        'Z' => ["###", "..#", ".#.", "#..", "###"],
        '0' => ["###", "#.#", "#.#", "#.#", "###"],
        '1' => [".#.", "##.", ".#.", ".#.", "###"],
        '2' => ["##.", "..#", ".#.", "#..", "###"],
        '3' => ["##.", "..#", ".#.", "..#", "##."],
        '4' => ["#.#", "#.#", "###", "..#", "..#"],
        '5' => ["###", "#..", "##.", "..#", "##."],
        '6' => [".##", "#..", "###", "#.#", "###"],
        '7' => ["###", "..#", ".#.", ".#.", ".#."],
        '8' => ["###", "#.#", "###", "#.#", "###"],
        '9' => ["###", "#.#", "###", "..#", "##."],
        ' ' => ["...", "...", "...", "...", "..."],
        ',' => ["...", "...", "...", ".#.", "#.."],
        '.' => ["...", "...", "...", "...", ".#."],
        '-' => ["...", "...", "###", "...", "..."],
        ':' => ["...", ".#.", "...", ".#.", "..."],
        '/' => ["..#", "..#", ".#.", "#..", "#.."],
        '!' => [".#.", ".#.", ".#.", "...", ".#."],
        '→' | '>' => ["#..", ".#.", "..#", ".#.", "#.."],
        _ => ["##.", "..#", ".#.", "...", ".#."],
    }
}

/// Columns `text` takes at `scale`.
pub fn width(text: &str, scale: usize) -> usize {
    let n = text.chars().count();
    (n * 4 * scale).saturating_sub(scale)
}

/// The largest scale (2 or 1) at which `text` fits `cols`, if any.
pub fn fit(text: &str, cols: usize) -> Option<usize> {
    [2, 1].into_iter().find(|&s| width(text, s) <= cols)
}

/// The `HEIGHT` rows of `text` at `scale`.
pub fn render(text: &str, scale: usize) -> [String; HEIGHT] {
    let mut rows: [String; HEIGHT] = Default::default();
    for (i, c) in text.chars().enumerate() {
        let g = glyph(c);
        for (row, pixels) in rows.iter_mut().zip(g) {
            if i > 0 {
                row.push_str(&" ".repeat(scale));
            }
            for p in pixels.chars() {
                let cell = if p == '#' { '█' } else { ' ' };
                row.extend(std::iter::repeat_n(cell, scale));
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_as_wide_as_promised() {
        for scale in [1, 2] {
            let rows = render("DC ACTIVE 1,234?", scale);
            for r in &rows {
                assert_eq!(r.chars().count(), width("DC ACTIVE 1,234?", scale));
            }
        }
        assert_eq!(fit("PASSIVE", 56), Some(2));
        assert_eq!(fit("PASSIVE", 30), Some(1));
        assert_eq!(fit("PASSIVE", 10), None);
        assert_eq!(render("", 1), <[String; HEIGHT]>::default());
    }
}
