//! Each consumer group's class, remembered by name from one pass to the
//! next: matching a name against the configured patterns costs more than
//! the rest of the group's view, and a cluster's group names hardly change
//! from poll to poll (at 5,000 groups a side, matching every name twice a
//! pass, for the side's view and for its translations, was a sixth of it).

use crate::config::Classification;
use crate::model::{Group, Side, Snapshot};

use super::groups::NameMap;
use super::sides::{GroupClass, group_class};

/// Classes by group name, for groups that are not Connect's (whose class
/// follows from their protocol). Only the classification the assessor was
/// made with fills it.
#[derive(Clone, Debug, Default)]
pub struct GroupClasses {
    by_name: NameMap<String, GroupClass>,
}

impl GroupClasses {
    /// The class of every group each side lists, in the order it lists them.
    pub fn of(&mut self, snap: &Snapshot, c: &Classification) -> [Vec<GroupClass>; 2] {
        let listed = |side: Side| snap.cluster(side).groups.as_ref().map_or(&[][..], |g| &g.value[..]);
        // Names no longer listed are forgotten once they could outnumber
        // those that are: the map stays within a few times the listings.
        if self.by_name.len() > 2 * (listed(Side::Dc).len() + listed(Side::Dr).len()) + 64 {
            self.by_name.clear();
        }
        Side::BOTH.map(|side| listed(side).iter().map(|g| self.class(g, c)).collect())
    }

    fn class(&mut self, g: &Group, c: &Classification) -> GroupClass {
        if g.protocol_type == "connect" {
            return group_class(g, c);
        }
        if let Some(class) = self.by_name.get(g.id.as_str()) {
            return *class;
        }
        let class = group_class(g, c);
        self.by_name.insert(g.id.clone(), class);
        class
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{DemoWorld, demo_settings};
    use crate::model::Ts;

    fn start() -> Ts {
        chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn remembered_classes_are_the_classes_the_patterns_give() {
        let settings = demo_settings();
        let snap = DemoWorld::scaled(3, start(), 1_000, 50).observe();
        let mut memo = GroupClasses::default();
        let first = memo.of(&snap, &settings.classification);
        let again = memo.of(&snap, &settings.classification);
        for side in Side::BOTH {
            let groups = snap.cluster(side).groups.as_ref().map_or(&[][..], |g| &g.value[..]);
            let fresh: Vec<GroupClass> = groups.iter().map(|g| group_class(g, &settings.classification)).collect();
            assert!(!fresh.is_empty(), "{side} lists groups");
            assert_eq!(first[side.index()], fresh, "{side}, first pass");
            assert_eq!(again[side.index()], fresh, "{side}, from memory");
        }
        assert!(first.iter().flatten().any(|c| *c == GroupClass::App));
        assert!(first.iter().flatten().any(|c| *c == GroupClass::Mm2));
    }

    #[test]
    fn a_group_keeps_its_protocol_class_whatever_its_name_was_before() {
        let settings = demo_settings();
        let mut snap = DemoWorld::new(3, start()).observe();
        let mut memo = GroupClasses::default();
        memo.of(&snap, &settings.classification);
        // The same name, now a Connect group's: its class follows the protocol.
        let groups = snap.clusters[0].groups.as_mut().map(|g| &mut g.value);
        let Some(g) = groups.and_then(|g| g.iter_mut().find(|g| g.protocol_type != "connect")) else {
            panic!("the demo lists a consumer group on DC");
        };
        g.protocol_type = "connect".into();
        let id = g.id.clone();
        let classes = memo.of(&snap, &settings.classification);
        let listed = snap.clusters[0].groups.as_ref().map_or(&[][..], |g| &g.value[..]);
        let at = listed.iter().position(|g| g.id == id).unwrap_or(usize::MAX);
        assert_eq!(classes[0].get(at), Some(&GroupClass::Mm2), "{id}");
    }
}
