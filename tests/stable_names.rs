//! Identities the CLI, the JSON and duplicate detection rely on are
//! explicit names, never `Debug` output: a renamed variant must not change
//! them.

use kdrill::action::{Action, Fault};
use kdrill::assess::rules::violation_key;
use kdrill::assess::{GroupClass, Rule};

#[test]
fn fault_names_are_fixed_and_serde_agrees() {
    let names: Vec<&str> = Fault::ALL.iter().map(|f| f.as_str()).collect();
    assert_eq!(
        names,
        [
            "fail-mm2-task",
            "stray-consumer",
            "bidirectional",
            "broker-down",
            "cut-off-dc",
            "produce-burst",
            "pods-unlisted",
            "stall-mm2",
            "untranslatable-group",
            "orphan-records",
            "policy-drift",
            "foreign-producer"
        ]
    );
    for f in Fault::ALL {
        assert_eq!(serde_json::to_value(f).ok(), Some(serde_json::Value::from(f.as_str())));
        assert_eq!(serde_json::from_value::<Fault>(f.as_str().into()).ok(), Some(f));
    }
    let action = serde_json::to_value(Action::Fault(Fault::CutOffDc)).unwrap_or_default();
    assert_eq!(action, serde_json::json!({ "Fault": "cut-off-dc" }));
}

#[test]
fn group_class_names_are_fixed() {
    let names = [GroupClass::App, GroupClass::Plumbing, GroupClass::Mm2, GroupClass::Foreign, GroupClass::Other]
        .map(GroupClass::as_str);
    assert_eq!(names, ["app", "plumbing", "mm2", "foreign", "other"]);
}

#[test]
fn rule_names_and_violation_keys_are_fixed() {
    let names = Rule::ALL.map(Rule::as_str);
    assert_eq!(names, ["apps-on-both-sides", "mm2-bidirectional", "mm2-on-active-side", "mm2-started-before-apps"]);
    assert_eq!(violation_key(Rule::Mm2OnActiveSide, "mm2:DC→DR"), "mm2-on-active-side:mm2:DC→DR");
    // Journals written before keep reading: the serde names are pinned.
    let json: Vec<String> = Rule::ALL
        .iter()
        .map(|r| serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
        .collect();
    assert_eq!(json, ["AppsOnBothSides", "Mm2Bidirectional", "Mm2OnActiveSide", "Mm2StartedBeforeApps"]);
}

#[test]
fn untranslatable_reason_names_are_fixed() {
    use kdrill::assess::Untranslatable;
    let names = [
        Untranslatable::NoCheckpoint,
        Untranslatable::CheckpointBehindCommit { records: 1, seconds: None },
        Untranslatable::SyncTooFarBehind { records: 1 },
    ]
    .map(|r| r.as_str());
    assert_eq!(names, ["no-checkpoint", "checkpoint-behind-commit", "sync-point-too-far-behind"]);
}
