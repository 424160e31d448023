//! The import rules of docs/architecture.md, checked on the source: each
//! module of `src/` imports only the modules its row allows. Test code (from
//! the first `#[cfg(test)]` of a file on) is not held to them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// (module, the modules it may import), as in docs/architecture.md.
const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("action", &["model"]),
    ("config", &["model"]),
    ("assess", &["model", "config"]),
    ("drill", &["model", "action", "assess"]),
    ("check", &["model", "assess"]),
    ("act", &["model", "action", "config", "assess", "collect"]),
    ("dispatch", &["action", "act"]),
    ("collect", &["model", "config", "action", "act", "dispatch"]),
    ("demo", &["model", "config", "action", "act", "collect"]),
    ("report", &["model", "action", "assess", "drill"]),
    ("serve", &["model", "assess", "check", "drill", "share"]),
    ("share", &["model", "config", "drill", "collect"]),
    ("ui", &["model", "config", "action", "act", "assess", "drill", "dispatch", "collect", "share"]),
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            rust_files(&p, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

/// The `crate::X` modules a file's non-test code names.
fn imports(file: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        // `crate::{a, b}` groups are not used in this code base.
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

#[test]
fn every_module_imports_only_what_its_row_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (module, allowed) in ALLOWED {
        let dir = src.join(module);
        let path = if dir.is_dir() { dir } else { src.join(format!("{module}.rs")) };
        assert!(path.exists(), "{} is in the table but not in src/", path.display());
        let mut files = Vec::new();
        rust_files(&path, &mut files);
        for f in files {
            for name in imports(&f) {
                if name != *module && !allowed.contains(&name.as_str()) {
                    broken.push(format!("{} imports crate::{name}", f.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "imports docs/architecture.md does not allow:\n{}", broken.join("\n"));
}

#[test]
fn every_module_of_the_library_has_a_row() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .unwrap_or_else(|e| panic!("src/lib.rs: {e}"));
    let declared: Vec<&str> = lib.lines().filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';')).collect();
    assert!(declared.len() >= 9, "lib.rs declares its modules: {declared:?}");
    for m in declared {
        assert!(ALLOWED.iter().any(|(name, _)| *name == m), "src/{m} has no row in the import rules");
    }
}
