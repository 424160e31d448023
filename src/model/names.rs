//! One shared copy of each name: snapshots repeat a topic's (or a group's)
//! name in every per-partition row, and 250,000 committed offsets of 1,000
//! topics should hold 1,000 names, not 250,000 copies.

use std::collections::HashSet;
use std::sync::Arc;

/// Hands out one `Arc<str>` per distinct name. Producers keep one for a poll
/// (or, when what they keep outlives polls, for their lifetime with
/// [`Names::forget_unused`] now and then).
#[derive(Debug, Default)]
pub struct Names(HashSet<Arc<str>>);

impl Names {
    /// The shared copy of `name`, made on first sight.
    pub fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(name) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(name);
        self.0.insert(Arc::clone(&shared));
        shared
    }

    /// Drops the names nothing but this interner holds any more (a deleted
    /// topic's), so a long-lived interner does not grow without bound.
    pub fn forget_unused(&mut self) {
        self.0.retain(|name| Arc::strong_count(name) > 1);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_name() {
        let mut names = Names::default();
        let a = names.get("orders");
        let b = names.get("orders");
        let c = names.get("payments");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!((&*a, &*c, names.len()), ("orders", "payments", 2));
    }

    #[test]
    fn forgets_only_names_no_row_holds() {
        let mut names = Names::default();
        let kept = names.get("orders");
        drop(names.get("deleted"));
        names.forget_unused();
        assert_eq!(names.len(), 1);
        assert!(Arc::ptr_eq(&kept, &names.get("orders")));
    }
}
