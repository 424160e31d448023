//! The drill journal: one JSON event per line, appended and synced to disk
//! as it happens, so an SSH drop or a crash mid-drill loses nothing and the
//! drill resumes where it was. Secrets never enter it: events hold only
//! plan steps, observed figures and operator confirmations.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr};

use super::DrillEvent;

pub struct Journal {
    path: PathBuf,
    file: File,
}

/// What was read back from an existing journal.
#[derive(Debug, Default)]
pub struct Recovered {
    pub events: Vec<DrillEvent>,
    /// Lines that could not be read (a torn last write), with their number.
    pub skipped: Vec<(usize, String)>,
}

impl Journal {
    /// Opens (creating if needed) the journal at `path` and reads back what
    /// it holds.
    pub fn open(path: &Path) -> Result<(Journal, Recovered)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .wrap_err_with(|| format!("cannot create journal directory {}", dir.display()))?;
        }
        let recovered = if path.exists() { read(path)? } else { Recovered::default() };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .wrap_err_with(|| format!("cannot open journal {}", path.display()))?;
        Ok((Journal { path: path.to_owned(), file }, recovered))
    }

    pub fn append(&mut self, ev: &DrillEvent) -> Result<()> {
        let mut line = serde_json::to_string(ev).wrap_err("cannot encode a drill event")?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .wrap_err_with(|| format!("cannot write journal {}", self.path.display()))?;
        self.file.sync_data().wrap_err_with(|| format!("cannot sync journal {}", self.path.display()))
    }

    /// Starts a new journal for a new drill, keeping the old one beside it.
    pub fn rotate(&mut self, stamp: &str) -> Result<()> {
        let old = self.path.with_extension(format!("{stamp}.jsonl"));
        std::fs::rename(&self.path, &old).wrap_err_with(|| format!("cannot move {} aside", self.path.display()))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .wrap_err_with(|| format!("cannot open journal {}", self.path.display()))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every event of a journal file, skipping lines it cannot parse.
pub fn read(path: &Path) -> Result<Recovered> {
    let file = File::open(path).wrap_err_with(|| format!("cannot read journal {}", path.display()))?;
    let mut out = Recovered::default();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.wrap_err_with(|| format!("cannot read journal {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(ev) => out.events.push(ev),
            Err(e) => out.skipped.push((i + 1, e.to_string())),
        }
    }
    Ok(out)
}
