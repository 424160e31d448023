//! The drill journal: one self-describing JSON record per line, appended and
//! synced (write + fsync) before the console shows the event, so an SSH drop
//! or a crash mid-drill loses nothing acknowledged and the drill resumes
//! where it was. Each record stands alone (format, sequence number, time,
//! who, event), so the same lines could be produced to a Kafka topic as
//! they are. Secrets never enter it: events hold plan steps, observed
//! figures, operator confirmations and a fingerprint of the configuration.
//!
//! Reading is strict. A crash mid-write leaves a torn last line: it is
//! reported with its number and the drill resumes without it; the next
//! record written names it (`after_torn_line`), so the fragment stays in
//! place for the audit and is never misread. Any other unreadable line, a
//! file that is not a kdrill journal, or one from a newer format is refused.
//! (The earlier bare-event format is not read: it never had users.)

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Ts;

use super::DrillEvent;

/// The journal format this kdrill writes and reads.
pub const FORMAT: u32 = 1;

/// How every record begins: serde writes the struct's fields in order.
const RECORD_START: &str = "{\"kdrill_journal\":";

/// Who acted: the OS user and host of the console that recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    pub user: String,
    pub host: String,
}

impl Who {
    /// The OS user and host name. Read once at start, never per event.
    pub fn current() -> Who {
        let user = env("USER").or_else(|| env("LOGNAME")).or_else(|| command("id", &["-un"]));
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .or_else(|| env("HOSTNAME"))
            .or_else(|| command("uname", &["-n"]));
        Who { user: user.unwrap_or_else(|| "unknown".into()), host: host.unwrap_or_else(|| "unknown".into()) }
    }

    /// `user@host`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }
}

fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn command(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The format version; first, so any line says whose it is.
    pub kdrill_journal: u32,
    /// 1, 2, 3… within one journal file (one drill), without gaps.
    pub seq: u64,
    /// The wall clock (UTC) when the record was written; the event's own
    /// `at` is when it happened, in observation time.
    pub written_at: Ts,
    /// On operator events: who did it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<Who>,
    /// The line before this record is a torn write, found on resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_torn_line: Option<usize>,
    pub event: DrillEvent,
}

/// A torn line: a write a crash cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornLine {
    pub line: usize,
    pub bytes: usize,
}

/// What was read back from a journal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recovered {
    pub records: Vec<Record>,
    /// The last line, torn and not yet followed by a record naming it.
    pub torn: Option<TornLine>,
}

impl Recovered {
    pub fn events(&self) -> Vec<DrillEvent> {
        self.records.iter().map(|r| r.event.clone()).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: cannot {what}: {error}")]
    Io { path: String, what: &'static str, error: std::io::Error },
    #[error(
        "{path} line {line} is not a kdrill journal record ({why}): refusing to read or write it; give another file"
    )]
    NotKdrill { path: String, line: usize, why: String },
    #[error(
        "{path} line {line} was written by a newer kdrill (journal format {format}; this kdrill reads format {FORMAT}): use a newer kdrill"
    )]
    Newer { path: String, line: usize, format: u64 },
    #[error(
        "{path} line {line} is damaged ({why}): refusing to guess what it said; keep the file for the audit and move it aside to start afresh"
    )]
    Damaged { path: String, line: usize, why: String },
    #[error("journal {path}: an earlier write failed; restart kdrill to resume from what is on disk")]
    Broken { path: String },
    #[error("cannot encode a drill event: {0}")]
    Encode(#[from] serde_json::Error),
}

/// An open journal, appending.
pub struct Journal {
    path: PathBuf,
    file: File,
    who: Who,
    next_seq: u64,
    /// A torn line the next record must name.
    torn: Option<usize>,
    /// The file does not end with a newline (a torn write): the next record
    /// starts on a line of its own.
    unterminated: bool,
    empty: bool,
    /// A write failed part-way: what is on disk is no longer known here.
    broken: bool,
}

impl Journal {
    /// Opens (creating if needed) the journal at `path` and reads back what
    /// it holds. `who` is stamped on every operator event written.
    pub fn open(path: &Path, who: Who) -> Result<(Journal, Recovered), JournalError> {
        let io = |what, error| JournalError::Io { path: path.display().to_string(), what, error };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io("create its directory", e))?;
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io("read", e)),
        };
        let recovered = parse(path, &bytes)?;
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(|e| io("open", e))?;
        let journal = Journal {
            path: path.to_owned(),
            file,
            who,
            next_seq: recovered.records.last().map_or(1, |r| r.seq + 1),
            torn: recovered.torn.map(|t| t.line),
            unterminated: bytes.last().is_some_and(|b| *b != b'\n'),
            empty: bytes.is_empty(),
            broken: false,
        };
        Ok((journal, recovered))
    }

    /// Writes `ev` and syncs it to disk; returns its sequence number. A new
    /// drill's `Started` moves the previous journal aside first.
    pub fn append(&mut self, ev: &DrillEvent) -> Result<u64, JournalError> {
        self.append_record(ev).map(|r| r.seq)
    }

    /// As [`Journal::append`], returning the record as written (to share it).
    pub fn append_record(&mut self, ev: &DrillEvent) -> Result<Record, JournalError> {
        if self.broken {
            return Err(JournalError::Broken { path: self.path.display().to_string() });
        }
        if matches!(ev, DrillEvent::Started { .. }) && !self.empty {
            self.rotate(&ev.at().format("%Y%m%dT%H%M%SZ").to_string())?;
        }
        let record = Record {
            kdrill_journal: FORMAT,
            seq: self.next_seq,
            written_at: chrono::Utc::now(),
            who: ev.by_operator().then(|| self.who.clone()),
            after_torn_line: self.torn,
            event: ev.clone(),
        };
        self.write(&record)?;
        Ok(record)
    }

    /// Starts this journal afresh from another console's records of a drill
    /// (a takeover): the previous journal is moved aside, the records are
    /// written as they were, and the sequence continues after them.
    pub fn adopt(&mut self, records: &[Record]) -> Result<Vec<Record>, JournalError> {
        if self.broken {
            return Err(JournalError::Broken { path: self.path.display().to_string() });
        }
        if !self.empty {
            self.rotate(&chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string())?;
        }
        let mut written = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            let mut r = r.clone();
            // The records are renumbered as this file's: they come without gaps.
            r.seq = i as u64 + 1;
            r.after_torn_line = None;
            self.write(&r)?;
            written.push(r);
        }
        Ok(written)
    }

    fn write(&mut self, record: &Record) -> Result<(), JournalError> {
        let mut line = Vec::with_capacity(256);
        if self.unterminated {
            line.push(b'\n');
        }
        serde_json::to_writer(&mut line, record)?;
        line.push(b'\n');
        // One write: a crash leaves at most one torn line, never a blank one.
        let written = self.file.write_all(&line).and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.broken = true;
            return Err(JournalError::Io { path: self.path.display().to_string(), what: "write", error: e });
        }
        self.next_seq = record.seq + 1;
        self.torn = None;
        self.unterminated = false;
        self.empty = false;
        Ok(())
    }

    /// Moves the journal aside (`<name>.<stamp>.jsonl`) and starts a new one.
    fn rotate(&mut self, stamp: &str) -> Result<(), JournalError> {
        let io = |what, error| JournalError::Io { path: self.path.display().to_string(), what, error };
        let mut aside = self.path.with_extension(format!("{stamp}.jsonl"));
        for n in 2.. {
            if !aside.exists() {
                break;
            }
            aside = self.path.with_extension(format!("{stamp}-{n}.jsonl"));
        }
        std::fs::rename(&self.path, &aside).map_err(|e| io("move aside", e))?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path).map_err(|e| io("open", e))?;
        self.next_seq = 1;
        self.torn = None;
        self.unterminated = false;
        self.empty = true;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads a journal file (without writing to it).
pub fn read(path: &Path) -> Result<Recovered, JournalError> {
    let bytes = std::fs::read(path).map_err(|error| JournalError::Io {
        path: path.display().to_string(),
        what: "read",
        error,
    })?;
    parse(path, &bytes)
}

enum Bad {
    /// Not even JSON: possibly a torn write.
    Unreadable(String),
    NotKdrill(String),
    Newer(u64),
    /// Whole JSON, yet not a record this kdrill understands.
    Invalid(String),
}

/// Parses a journal's bytes; `path` only names the file in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Recovered, JournalError> {
    let name = || path.display().to_string();
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if bytes.last().is_none_or(|b| *b == b'\n') {
        lines.pop();
    }
    let mut out = Recovered::default();
    for (i, raw) in lines.iter().enumerate() {
        let line = i + 1;
        match parse_line(raw) {
            Ok(record) => {
                if let Some(t) = out.torn.take()
                    && record.after_torn_line != Some(t.line)
                {
                    let why = "unreadable, and the record after it does not name it as torn".to_owned();
                    return Err(JournalError::Damaged { path: name(), line: t.line, why });
                }
                let expected = out.records.last().map_or(1, |r| r.seq + 1);
                if record.seq != expected {
                    let why =
                        format!("sequence number {}, expected {expected}: a record is missing or repeated", record.seq);
                    return Err(JournalError::Damaged { path: name(), line, why });
                }
                out.records.push(record);
            }
            Err(Bad::Unreadable(why)) => {
                let could_be_ours =
                    raw.starts_with(RECORD_START.as_bytes()) || RECORD_START.as_bytes().starts_with(raw);
                if !could_be_ours && out.records.is_empty() {
                    return Err(JournalError::NotKdrill { path: name(), line, why });
                }
                if !could_be_ours || out.torn.is_some() {
                    return Err(JournalError::Damaged { path: name(), line, why });
                }
                out.torn = Some(TornLine { line, bytes: raw.len() });
            }
            Err(Bad::NotKdrill(why)) => return Err(JournalError::NotKdrill { path: name(), line, why }),
            Err(Bad::Newer(format)) => return Err(JournalError::Newer { path: name(), line, format }),
            Err(Bad::Invalid(why)) => return Err(JournalError::Damaged { path: name(), line, why }),
        }
    }
    Ok(out)
}

fn parse_line(raw: &[u8]) -> Result<Record, Bad> {
    let value: serde_json::Value = serde_json::from_slice(raw).map_err(|e| Bad::Unreadable(e.to_string()))?;
    let format = match value.get("kdrill_journal") {
        None => return Err(Bad::NotKdrill("no kdrill_journal field".into())),
        Some(v) => v.as_u64().ok_or_else(|| Bad::NotKdrill(format!("kdrill_journal is {v}, not a format number")))?,
    };
    if format > u64::from(FORMAT) {
        return Err(Bad::Newer(format));
    }
    if format == 0 {
        return Err(Bad::NotKdrill("kdrill_journal is 0".into()));
    }
    serde_json::from_value(value).map_err(|e| Bad::Invalid(e.to_string()))
}
