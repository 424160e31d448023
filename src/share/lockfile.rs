//! The local lock beside the journal: one driving console per journal on a
//! machine, whether or not the drill topic is reachable. An advisory
//! `flock`, so a crashed console's lock goes with its process; the file
//! says who holds it, for the refusal's words.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use super::lease::Driver;

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct LockFile {
    path: PathBuf,
    _file: File,
}

impl LockFile {
    /// `<journal>.lock`.
    pub fn path_for(journal: &Path) -> PathBuf {
        let mut name = journal.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".lock");
        journal.with_file_name(name)
    }

    /// Takes the lock for `me`, or says who holds it.
    pub fn take(journal: &Path, me: &Driver) -> Result<LockFile, String> {
        let path = Self::path_for(journal);
        let shown = path.display();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open the lock file {shown}: {e}"))?;
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "another kdrill" } else { holder };
            return Err(format!("{holder} drives this journal ({shown} is locked)"));
        }
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{} since {}", me.label(), me.since.format("%Y-%m-%d %H:%M:%S UTC")));
        written.map_err(|e| format!("cannot write the lock file {shown}: {e}"))?;
        Ok(LockFile { path, _file: file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
