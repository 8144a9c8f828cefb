//! Property tests for pod naming and ordering, and for the stability gate against a model.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cratectl_core::health::{Fingerprint, Health, StabilityGate, Verdict};
use cratectl_core::topology::{NodeGroup, node_name_hint, pod_group, pod_ordinal, sort_by_ordinal};
use proptest::prelude::*;

fn dns_name() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Pod names built the operator's way read back as the group, ordinal and node name.
    #[test]
    fn pod_names_round_trip(cr in dns_name(), group in prop::option::of(dns_name()), ordinal in 0u32..500) {
        let group = match group {
            Some(g) if g != "master" => NodeGroup::Data(g),
            _ => NodeGroup::Master,
        };
        let pod = format!("{}-{ordinal}", group.statefulset_name(&cr));
        prop_assert_eq!(pod_ordinal(&pod), Some(ordinal));
        prop_assert_eq!(pod_group(&pod, &cr), Some((group.clone(), ordinal)));
        prop_assert_eq!(node_name_hint(&pod, &cr), Some(group.node_name_hint(ordinal)));
    }

    /// Sorting pods of one StatefulSet orders them by ordinal, as numbers.
    #[test]
    fn sorted_by_ordinal(sts in dns_name(), mut ordinals in prop::collection::vec(0u32..2000, 0..30)) {
        let mut pods: Vec<String> = ordinals.iter().map(|o| format!("{sts}-{o}")).collect();
        sort_by_ordinal(&mut pods);
        ordinals.sort_unstable();
        let read: Vec<u32> = pods.iter().map(|p| pod_ordinal(p).unwrap()).collect();
        prop_assert_eq!(read, ordinals);
    }

    /// The gate is stable exactly when the last `required` verdicts were safe with one fingerprint.
    #[test]
    fn gate_matches_model(required in 1u32..5, steps in prop::collection::vec((any::<bool>(), 0u8..3), 0..40)) {
        let mut gate = StabilityGate::new(required);
        let mut history: Vec<(bool, u8)> = Vec::new();
        for (safe, master) in steps {
            let verdict = Verdict {
                health: if safe { Health::Green } else { Health::Yellow },
                safe_to_disrupt: safe,
                reasons: if safe { vec![] } else { vec!["1 underreplicated shard in doc.t".into()] },
                fingerprint: Some(Fingerprint {
                    node_names: vec!["a".into(), "b".into()],
                    master_node: Some(format!("m{master}")),
                }),
            };
            history.push((safe, master));
            let stable = gate.observe(&verdict).is_stable();
            let n = required as usize;
            let expected = history.len() >= n && {
                let tail = &history[history.len() - n..];
                tail.iter().all(|(s, m)| *s && *m == tail[0].1)
            };
            prop_assert_eq!(stable, expected, "{:?}", history);
        }
    }
}
