//! Without a drill topic (the demo world, or no cluster reachable) the lock
//! file beside the journal is the lock: one driving console per journal,
//! the second told who drives; released, it can be taken.

use std::time::Duration;

use kdrill::drill::journal::Who;
use kdrill::share::{Claim, LeaseOutcome, ShareDriver, local_only, me};

fn driver(journal: &std::path::Path, user: &str) -> ShareDriver {
    let who = Who { user: user.into(), host: "ops-1".into() };
    let link = local_only(Some(journal), Some(me(&who, chrono::Utc::now())), Duration::from_secs(30));
    link.driver.unwrap_or_else(|| panic!("a console that may drive has a writing end"))
}

fn claim(d: &mut ShareDriver) -> LeaseOutcome {
    d.claim(Claim::Drive);
    d.outcomes.blocking_recv().unwrap_or_else(|| panic!("no answer to the claim"))
}

#[test]
fn the_lock_file_lets_one_console_drive_a_journal_and_names_it_to_the_next() {
    let dir = std::env::temp_dir().join(format!("kdrill-share-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.join("journal.jsonl");

    let mut alice = driver(&journal, "alice");
    match claim(&mut alice) {
        LeaseOutcome::Won { shared: false, note: Some(note) } => assert!(note.contains("no drill topic"), "{note}"),
        other => panic!("alice drives, not shared: {other:?}"),
    }
    let lock = std::fs::read_to_string(dir.join("journal.jsonl.lock")).unwrap_or_default();
    assert!(lock.starts_with("alice@ops-1 (pid "), "the lock file says who drives: {lock:?}");

    let mut bob = driver(&journal, "bob");
    match claim(&mut bob) {
        LeaseOutcome::Refused(why) => {
            assert!(why.contains("alice@ops-1") && why.contains("drives this journal"), "{why}")
        }
        other => panic!("bob is refused: {other:?}"),
    }

    // Alice's console ends: its lock goes with it.
    alice.release();
    alice.close(Duration::from_secs(5));
    assert!(matches!(claim(&mut bob), LeaseOutcome::Won { shared: false, .. }), "bob drives once alice is gone");
    bob.close(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&dir);
}
