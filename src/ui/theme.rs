//! Meaning-based styles. Widgets ask for a slot (`ok`, `alarm`, `stale`...)
//! and never for a colour. Three built-in themes are embedded from
//! `themes/*.toml`; a user file is a partial overlay on one of them; with
//! `NO_COLOR` set, no colour is emitted and each meaning is carried by a
//! text modifier (and by the symbols the panes always draw: ✓ ✗ ? ⚠).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};

/// What a piece of text means; the theme decides how it looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    Text,
    Muted,
    Border,
    Focus,
    Accent,
    Ok,
    Warn,
    Alarm,
    Stale,
    Active,
    Passive,
    Badge,
}

impl Slot {
    pub const ALL: [Slot; 12] = [
        Slot::Text,
        Slot::Muted,
        Slot::Border,
        Slot::Focus,
        Slot::Accent,
        Slot::Ok,
        Slot::Warn,
        Slot::Alarm,
        Slot::Stale,
        Slot::Active,
        Slot::Passive,
        Slot::Badge,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Slot::Text => "text",
            Slot::Muted => "muted",
            Slot::Border => "border",
            Slot::Focus => "focus",
            Slot::Accent => "accent",
            Slot::Ok => "ok",
            Slot::Warn => "warn",
            Slot::Alarm => "alarm",
            Slot::Stale => "stale",
            Slot::Active => "active",
            Slot::Passive => "passive",
            Slot::Badge => "badge",
        }
    }

    fn from_key(key: &str) -> Option<Slot> {
        Slot::ALL.into_iter().find(|s| s.key() == key)
    }

    /// The look of the slot without colour: meaning by modifiers only.
    fn mono(self) -> Style {
        let m = match self {
            Slot::Text | Slot::Border | Slot::Ok => Modifier::empty(),
            Slot::Muted => Modifier::DIM,
            Slot::Focus | Slot::Accent | Slot::Warn | Slot::Passive => Modifier::BOLD,
            Slot::Alarm | Slot::Active => Modifier::BOLD | Modifier::REVERSED,
            Slot::Stale => Modifier::ITALIC | Modifier::DIM,
            Slot::Badge => Modifier::REVERSED,
        };
        Style::new().add_modifier(m)
    }

    fn index(self) -> usize {
        self as usize
    }
}

const FIELDS: &str = "fg, bg, bold, dim, italic, underline, reversed";
const COLOUR: &str = "a colour: a name (black, red, green, yellow, blue, magenta, cyan, gray, darkgray, \
                      lightred ... white, reset), \"#rrggbb\" or an index 0-255";

/// The built-in themes, by name.
pub const BUILTIN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("unknown theme {name:?}: expected one of dark, light, high-contrast")]
    UnknownTheme { name: String },
    #[error("cannot read theme file {}: {source}", file.display())]
    Read { file: PathBuf, source: std::io::Error },
    #[error("theme file {}: not valid TOML: {message}", file.display())]
    Syntax { file: PathBuf, message: String },
    #[error("theme file {}: unknown key {key:?}: expected {expected}", file.display())]
    UnknownKey { file: PathBuf, key: String, expected: String },
    #[error("theme file {}: {key} = {value}: expected {expected}", file.display())]
    BadValue { file: PathBuf, key: String, value: String, expected: String },
}

/// Changes one file makes to one slot.
#[derive(Clone, Debug, Default, PartialEq)]
struct Patch {
    fg: Option<Color>,
    bg: Option<Color>,
    add: Modifier,
    remove: Modifier,
}

impl Patch {
    fn apply(&self, mut s: Style) -> Style {
        if let Some(c) = self.fg {
            s = s.fg(c);
        }
        if let Some(c) = self.bg {
            s = s.bg(c);
        }
        s.add_modifier(self.add).remove_modifier(self.remove)
    }
}

type Patches = Vec<(Slot, Patch)>;

#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    name: String,
    styles: [Style; Slot::ALL.len()],
    no_color: bool,
    /// The user's overlay, kept so `:theme` can switch the base without
    /// reading the file again.
    overlay: Patches,
}

impl Default for Theme {
    fn default() -> Self {
        // The built-ins are tested to parse; fall back to modifiers only.
        Theme::compose("dark", Vec::new(), false).unwrap_or_else(|_| Theme::mono("dark"))
    }
}

impl Theme {
    /// The built-in `name`, overlaid by the file at `overlay`, without
    /// colours when `no_color`.
    pub fn load(name: &str, overlay: Option<&Path>, no_color: bool) -> Result<Theme, ThemeError> {
        let patches = match overlay {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ThemeError::Read { file: path.to_owned(), source })?;
                parse(path, &text)?
            }
            None => Vec::new(),
        };
        Theme::compose(name, patches, no_color)
    }

    /// Like `load`, with the overlay given as text (`file` names it in errors).
    pub fn load_str(name: &str, file: &Path, overlay: &str, no_color: bool) -> Result<Theme, ThemeError> {
        Theme::compose(name, parse(file, overlay)?, no_color)
    }

    /// The same overlay and colour choice on another built-in.
    pub fn with_base(&self, name: &str) -> Result<Theme, ThemeError> {
        Theme::compose(name, self.overlay.clone(), self.no_color)
    }

    /// `NO_COLOR` is set to something non-empty (see no-color.org).
    pub fn no_color_from_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn no_color(&self) -> bool {
        self.no_color
    }

    pub fn get(&self, slot: Slot) -> Style {
        self.styles[slot.index()]
    }

    fn mono(name: &str) -> Theme {
        Theme { name: name.to_owned(), styles: Slot::ALL.map(Slot::mono), no_color: true, overlay: Vec::new() }
    }

    fn compose(name: &str, overlay: Patches, no_color: bool) -> Result<Theme, ThemeError> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ThemeError::UnknownTheme { name: name.to_owned() })?;
        if no_color {
            return Ok(Theme { overlay, ..Theme::mono(name) });
        }
        let base = parse(&PathBuf::from(format!("(built-in) themes/{name}.toml")), text)?;
        let mut styles = [Style::new(); Slot::ALL.len()];
        for (slot, patch) in base.iter().chain(&overlay) {
            styles[slot.index()] = patch.apply(styles[slot.index()]);
        }
        Ok(Theme { name: name.to_owned(), styles, no_color, overlay })
    }
}

fn parse(file: &Path, text: &str) -> Result<Patches, ThemeError> {
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| ThemeError::Syntax { file: file.to_owned(), message: e.message().to_owned() })?;
    let slots = Slot::ALL.map(Slot::key).join(", ");
    let mut out = Vec::new();
    for (key, value) in &table {
        let slot = Slot::from_key(key).ok_or_else(|| ThemeError::UnknownKey {
            file: file.to_owned(),
            key: key.clone(),
            expected: format!("a slot: {slots}"),
        })?;
        let fields = value.as_table().ok_or_else(|| ThemeError::BadValue {
            file: file.to_owned(),
            key: key.clone(),
            value: value.to_string(),
            expected: format!("a table such as {{ fg = \"red\", bold = true }} with fields {FIELDS}"),
        })?;
        let mut patch = Patch::default();
        for (field, v) in fields {
            let full = format!("{key}.{field}");
            let bad = |expected: &str| ThemeError::BadValue {
                file: file.to_owned(),
                key: full.clone(),
                value: v.to_string(),
                expected: expected.to_owned(),
            };
            match field.as_str() {
                "fg" | "bg" => {
                    let colour = v.as_str().and_then(|s| Color::from_str(s).ok()).ok_or_else(|| bad(COLOUR))?;
                    if field == "fg" {
                        patch.fg = Some(colour);
                    } else {
                        patch.bg = Some(colour);
                    }
                }
                flag => {
                    let m = modifier(flag).ok_or_else(|| ThemeError::UnknownKey {
                        file: file.to_owned(),
                        key: full.clone(),
                        expected: format!("a field: {FIELDS}"),
                    })?;
                    match v.as_bool().ok_or_else(|| bad("true or false"))? {
                        true => patch.add |= m,
                        false => patch.remove |= m,
                    }
                }
            }
        }
        out.push((slot, patch));
    }
    Ok(out)
}

fn modifier(flag: &str) -> Option<Modifier> {
    Some(match flag {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underline" => Modifier::UNDERLINED,
        "reversed" => Modifier::REVERSED,
        _ => return None,
    })
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> PathBuf {
        PathBuf::from("/home/op/.config/kdrill/theme.toml")
    }

    #[test]
    fn every_builtin_defines_every_slot() {
        for (name, text) in BUILTIN {
            let patches = parse(Path::new(name), text).map_err(|e| e.to_string());
            let patches = patches.unwrap_or_else(|e| panic!("{e}"));
            for slot in Slot::ALL {
                assert!(patches.iter().any(|(s, _)| *s == slot), "{name} lacks {slot}");
            }
        }
    }

    #[test]
    fn overlay_changes_only_what_it_names() {
        let base = Theme::load("dark", None, false).map_err(|e| e.to_string());
        let base = base.unwrap_or_else(|e| panic!("{e}"));
        let t = Theme::load_str("dark", &file(), "alarm = { bg = \"#800000\" }\n", false);
        let t = t.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.get(Slot::Alarm).bg, Some(Color::Rgb(0x80, 0, 0)));
        assert_eq!(t.get(Slot::Alarm).fg, base.get(Slot::Alarm).fg, "fg kept from the base");
        assert!(t.get(Slot::Alarm).add_modifier.contains(Modifier::BOLD), "bold kept from the base");
        for slot in Slot::ALL.into_iter().filter(|s| *s != Slot::Alarm) {
            assert_eq!(t.get(slot), base.get(slot), "{slot} untouched");
        }
        // Switching the base keeps the overlay.
        let light = t.with_base("light").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(light.get(Slot::Alarm).bg, Some(Color::Rgb(0x80, 0, 0)));
        assert_eq!(light.name(), "light");
    }

    #[test]
    fn overlay_can_switch_a_flag_off() {
        let t = Theme::load_str("dark", &file(), "[warn]\nbold = false\n", false).unwrap_or_else(|e| panic!("{e}"));
        assert!(!t.get(Slot::Warn).add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn no_color_emits_no_colour_and_keeps_meaning() {
        let t = Theme::load_str("dark", &file(), "alarm = { fg = \"red\" }", true).unwrap_or_else(|e| panic!("{e}"));
        for slot in Slot::ALL {
            let s = t.get(slot);
            assert_eq!((s.fg, s.bg), (None, None), "{slot} has a colour under NO_COLOR");
        }
        assert!(t.get(Slot::Alarm).add_modifier.contains(Modifier::REVERSED));
        assert!(t.get(Slot::Stale).add_modifier.contains(Modifier::ITALIC));
        assert_ne!(t.get(Slot::Ok), t.get(Slot::Alarm));
        assert_ne!(t.get(Slot::Stale), t.get(Slot::Ok));
    }

    #[test]
    fn unknown_slot_names_file_key_and_expected() {
        let e = Theme::load_str("dark", &file(), "alrm = { fg = \"red\" }", false).err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.contains("theme.toml"), "{e}");
        assert!(e.contains("\"alrm\""), "{e}");
        assert!(e.contains("alarm") && e.contains("stale"), "{e}");
    }

    #[test]
    fn unknown_field_names_the_dotted_key() {
        let e = Theme::load_str("dark", &file(), "ok = { colour = \"green\" }", false).err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.contains("ok.colour") && e.contains("fg, bg, bold"), "{e}");
    }

    #[test]
    fn bad_colour_names_key_value_and_expected() {
        let e = Theme::load_str("dark", &file(), "[stale]\nfg = \"purpleish\"\n", false).err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.contains("theme.toml"), "{e}");
        assert!(e.contains("stale.fg") && e.contains("purpleish"), "{e}");
        assert!(e.contains("#rrggbb"), "{e}");
    }

    #[test]
    fn bad_flag_and_bad_shape_are_errors() {
        let e = Theme::load_str("dark", &file(), "warn = { bold = \"yes\" }", false).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("warn.bold = \"yes\": expected true or false"));
        let e = Theme::load_str("dark", &file(), "warn = \"yellow\"", false).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("expected a table"));
        let e = Theme::load_str("dark", &file(), "warn = {", false).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("not valid TOML"));
    }

    #[test]
    fn unknown_builtin_and_missing_file() {
        let e = Theme::load("solarized", None, false).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("solarized") && e.contains("high-contrast"), "{e}");
        let missing = Path::new("/nonexistent/kdrill-theme.toml");
        let e = Theme::load("dark", Some(missing), false).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("/nonexistent/kdrill-theme.toml"), "{e}");
    }
}
