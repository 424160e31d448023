//! Two independent parts of an assessment pass at once: at 100,000
//! partitions a pass on one core takes well over its 50 ms target.

use std::sync::{Mutex, PoisonError};

/// Runs `a` on a thread of its own while `b` runs here, and returns both.
/// Where no thread can be started, `a` runs here after `b`. A panic in
/// either reaches the caller, as it would on one thread.
pub fn join<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    // Kept here, not moved into the thread, so that `a` still runs if the
    // thread cannot start.
    let slot = Mutex::new(Some(a));
    let take = || slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    std::thread::scope(|scope| {
        let spawned =
            std::thread::Builder::new().name("kdrill-assess".into()).spawn_scoped(scope, || take().map(|a| a()));
        let b = b();
        let a = match spawned.map(|thread| thread.join()) {
            Ok(Ok(Some(a))) => a,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            // Not started (or started without `a`, which cannot be): run it here.
            Ok(Ok(None)) | Err(_) => match take() {
                Some(a) => a(),
                None => unreachable!("`a` is taken once, by the thread or here"),
            },
        };
        (a, b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parts_run_and_return_in_order() {
        let main = std::thread::current().id();
        let ((a, a_thread), b) = join(|| (1, std::thread::current().id()), || 2);
        assert_eq!((a, b), (1, 2));
        assert_ne!(a_thread, main, "the first part runs on a thread of its own");
    }

    #[test]
    fn a_panic_in_the_spawned_part_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| join(|| panic!("part a failed"), || 2));
        assert!(caught.is_err());
    }
}
