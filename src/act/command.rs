//! One configured command, run without a shell: argv[0] is the program,
//! the rest its arguments; stdin empty, stdout and stderr captured, killed
//! (with everything it started) when it outlives its timeout. The result
//! says how it ended and the tail of what it printed, with every secret
//! replaced by `***`. Nothing here panics.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::{CommandRequest, Request, RequestResult, secs};
use crate::config::Secret;

/// How much of each stream the result quotes.
const TAIL_LINES: usize = 15;
const TAIL_BYTES: usize = 1500;
/// How much of each stream is kept while reading (the tail is cut from it
/// after redaction, so a secret is never cut in half at the kept edge).
const KEEP_BYTES: usize = 16 * 1024;
/// After the program ends, how long its output may still take to arrive:
/// something it started in the background may hold the pipes open.
const DRAIN: Duration = Duration::from_secs(1);
/// How long a killed program may take to be reaped.
const REAP: Duration = Duration::from_secs(5);

/// Runs one configured command without a shell; never panics.
/// `redact`: secret values that must not appear in the result (replaced by ***).
pub async fn run(req: &CommandRequest, redact: &[Secret]) -> RequestResult {
    let preview = Request::Command(req.clone()).preview().into_iter().next().unwrap_or_default();
    // A secret passed as an argument is not shown either.
    let request = redact_text(&preview, redact);
    let (ok, detail) = match execute(req, redact).await {
        Ok(detail) => (true, detail),
        Err(detail) => (false, detail),
    };
    RequestResult { request, ok, detail, recorded: Vec::new() }
}

async fn execute(req: &CommandRequest, redact: &[Secret]) -> Result<String, String> {
    let Some((program, args)) = req.argv.split_first() else {
        return Err("no command configured (its argv is empty)".into());
    };
    let program_words = redact_text(program, redact);
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    // Its own process group, so a timeout kills what it started too.
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn().map_err(|e| format!("cannot start {program_words}: {e}"))?;
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());

    let outcome = match tokio::time::timeout(req.timeout, child.wait()).await {
        Ok(Ok(status)) => match status_words(status, &program_words) {
            (true, words) => Ok(words),
            (false, words) => Err(words),
        },
        Ok(Err(e)) => Err(format!("lost track of {program_words}: {e}")),
        Err(_) => {
            kill(&mut child).await;
            Err(format!("timed out after {}; killed", duration_words(req.timeout)))
        }
    };
    let _ = tokio::time::timeout(DRAIN, async {
        let _ = stdout.0.await;
        let _ = stderr.0.await;
    })
    .await;
    let mut detail = match &outcome {
        Ok(words) | Err(words) => words.clone(),
    };
    for (label, kept) in [("", &stdout.1), ("stderr:\n", &stderr.1)] {
        let bytes = kept.lock().map(|b| b.clone()).unwrap_or_default();
        let tail = tail(&redact_text(&String::from_utf8_lossy(&bytes), redact));
        if !tail.is_empty() {
            detail.push('\n');
            detail.push_str(label);
            detail.push_str(&tail);
        }
    }
    match outcome {
        Ok(_) => Ok(detail),
        Err(_) => Err(detail),
    }
}

/// `(success, "exit 0")`, `(false, "killed by signal 9")`.
fn status_words(status: ExitStatus, program: &str) -> (bool, String) {
    if let Some(code) = status.code() {
        return (status.success(), format!("exit {code}"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return (false, format!("killed by signal {signal}"));
        }
    }
    (false, format!("{program} ended without an exit code ({status})"))
}

/// Kills the program's process group (the program and what it started),
/// then reaps the program.
async fn kill(child: &mut tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32)) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.start_kill();
    let _ = tokio::time::timeout(REAP, child.wait()).await;
}

/// Reads a stream to its end in the background, keeping its last bytes.
fn collect<R: AsyncRead + Unpin + Send + 'static>(
    stream: Option<R>,
) -> (tokio::task::JoinHandle<()>, Arc<Mutex<Vec<u8>>>) {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let sink = kept.clone();
    let task = tokio::spawn(async move {
        let Some(mut stream) = stream else { return };
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if let Ok(mut kept) = sink.lock() {
                kept.extend_from_slice(&buf[..n]);
                let excess = kept.len().saturating_sub(KEEP_BYTES);
                kept.drain(..excess);
            }
        }
    });
    (task, kept)
}

/// Every secret value replaced by `***` (the longest first, so one that
/// contains another is not left half shown).
fn redact_text(text: &str, secrets: &[Secret]) -> String {
    let mut values: Vec<&str> = secrets.iter().map(Secret::expose).filter(|s| !s.is_empty()).collect();
    values.sort_by_key(|s| std::cmp::Reverse(s.len()));
    values.iter().fold(text.to_owned(), |text, secret| text.replace(secret, "***"))
}

/// The last lines of `text`, at most `TAIL_LINES` and about `TAIL_BYTES`.
fn tail(text: &str) -> String {
    let text = text.trim_end();
    let lines: Vec<&str> = text.lines().collect();
    let last = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    if last.len() <= TAIL_BYTES {
        return last;
    }
    let mut cut = last.len() - TAIL_BYTES;
    while !last.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &last[cut..])
}

/// `300 ms`, `30 s`, `2 m`.
fn duration_words(d: Duration) -> String {
    if d < Duration::from_secs(1) { format!("{} ms", d.as_millis()) } else { secs(d) }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn command(argv: &[&str], timeout: Duration) -> CommandRequest {
        CommandRequest { argv: argv.iter().map(|s| s.to_string()).collect(), timeout }
    }

    #[tokio::test]
    async fn a_real_command_says_its_exit_code_and_output() {
        let req = command(&["/bin/sh", "-c", "echo hi; echo err >&2; exit 3"], Duration::from_secs(10));
        let r = run(&req, &[]).await;
        assert!(!r.ok);
        assert_eq!(r.detail, "exit 3\nhi\nstderr:\nerr");
        assert_eq!(r.request, "RUN /bin/sh -c 'echo hi; echo err >&2; exit 3' (timeout 10 s)");
        let ok = run(&command(&["/bin/sh", "-c", "echo done"], Duration::from_secs(10)), &[]).await;
        assert!(ok.ok, "{ok:?}");
        assert_eq!(ok.detail, "exit 0\ndone");
    }

    #[tokio::test]
    async fn a_command_outliving_its_timeout_is_killed() {
        let started = Instant::now();
        let r = run(&command(&["sleep", "5"], Duration::from_millis(300)), &[]).await;
        assert!(!r.ok);
        assert_eq!(r.detail, "timed out after 300 ms; killed");
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn what_a_command_started_in_the_background_is_killed_too() {
        let req = command(&["/bin/sh", "-c", "sleep 30 & echo $!; wait"], Duration::from_millis(500));
        let r = run(&req, &[]).await;
        assert!(!r.ok);
        let (words, pid) = r.detail.split_once('\n').unwrap_or_else(|| panic!("{r:?}"));
        assert_eq!(words, "timed out after 500 ms; killed");
        // Gone, or a zombie about to be reaped by whoever inherited it.
        let stat = format!("/proc/{pid}/stat");
        let deadline = Instant::now() + Duration::from_secs(2);
        while std::fs::read_to_string(&stat).is_ok_and(|s| !s.contains(") Z ")) {
            assert!(Instant::now() < deadline, "the background sleep {pid} still runs");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[tokio::test]
    async fn secrets_passed_as_arguments_are_not_shown() {
        let r =
            run(&command(&["/bin/echo", "--password", "hunter2"], Duration::from_secs(10)), &[Secret::new("hunter2")])
                .await;
        assert!(r.ok, "{r:?}");
        assert_eq!(r.request, "RUN /bin/echo --password *** (timeout 10 s)");
        assert_eq!(r.detail, "exit 0\n--password ***");
    }

    #[tokio::test]
    async fn secrets_printed_by_a_command_are_replaced() {
        let secrets = [Secret::new("hunter2"), Secret::new("hunter22x"), Secret::new("")];
        let req = command(
            &["/bin/sh", "-c", "echo password=hunter2 long=hunter22x; echo hunter2 >&2"],
            Duration::from_secs(10),
        );
        let r = run(&req, &secrets).await;
        assert!(r.ok, "{r:?}");
        assert_eq!(r.detail, "exit 0\npassword=*** long=***\nstderr:\n***");
    }

    #[tokio::test]
    async fn a_missing_program_is_named() {
        let r = run(&command(&["/nonexistent/kdrill-no-such-program", "x"], Duration::from_secs(5)), &[]).await;
        assert!(!r.ok);
        assert!(r.detail.starts_with("cannot start /nonexistent/kdrill-no-such-program: "), "{}", r.detail);
        assert!(r.detail.contains("No such file or directory"), "{}", r.detail);
        let empty = run(&command(&[], Duration::from_secs(5)), &[]).await;
        assert!(!empty.ok);
        assert_eq!(empty.detail, "no command configured (its argv is empty)");
    }

    #[tokio::test]
    async fn a_signal_is_reported() {
        let r = run(&command(&["/bin/sh", "-c", "kill -9 $$"], Duration::from_secs(10)), &[]).await;
        assert!(!r.ok);
        assert_eq!(r.detail, "killed by signal 9");
    }

    #[test]
    fn long_output_is_cut_to_its_tail() {
        let text: String = (1..=40).map(|i| format!("line {i}\n")).collect();
        let t = tail(&text);
        assert_eq!(t.lines().count(), TAIL_LINES);
        assert!(t.starts_with("line 26") && t.ends_with("line 40"), "{t}");
        let long = "é".repeat(2000);
        let t = tail(&long);
        assert!(t.starts_with('…') && t.len() <= TAIL_BYTES + '…'.len_utf8(), "{}", t.len());
    }
}
