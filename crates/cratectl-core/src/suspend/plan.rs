//! What `suspend` and `resume` decide before anything is written: the mode, the counts, and
//! "nothing to do". The same functions run in the CLI (refusals are exit 2, nothing recorded)
//! and again at the workflow's start (a cluster that changed since fails the run).
//!
//! The facts come from Kubernetes only: a suspended cluster has no CrateDB to ask.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::record::{Counts, SuspendRecord};
use crate::scale::plan::{MASTER_GROUP, Mode, parse_targets, resolve_mode};

/// One node group as Kubernetes shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFacts {
    /// `master` or the data group's name.
    pub name: String,
    /// Index in `spec.nodes.data` (`None` for `master`).
    pub data_index: Option<usize>,
    pub statefulset: String,
    /// The StatefulSet's `spec.replicas`.
    pub replicas: u64,
    /// The resource's count for the group.
    pub resource_replicas: u64,
    /// Pods of the StatefulSet that exist now (terminating ones included).
    pub pods: u64,
    /// Persistent volume claims of the group's data (`data0-<statefulset>-<i>`), by ordinal.
    pub claims: Vec<u64>,
}

impl GroupFacts {
    pub fn is_master(&self) -> bool {
        self.name == MASTER_GROUP
    }

    /// The CrateDB node name of ordinal `i` (the operator's naming).
    pub fn node_name(&self, i: u64) -> String {
        if self.is_master() {
            format!("master-{i}")
        } else {
            format!("data-{}-{i}", self.name)
        }
    }
}

/// The cluster as Kubernetes shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SuspendFacts {
    /// `namespace/resource`, for messages.
    pub qualified: String,
    /// The CrateDB cluster name (what users type).
    pub name: String,
    /// Dedicated masters first (if any), then the data groups in spec order.
    pub groups: Vec<GroupFacts>,
    pub operator_managed: bool,
    /// The suspend record on the resource, when there is one.
    pub record: Option<SuspendRecord>,
}

impl SuspendFacts {
    fn data(&self) -> impl Iterator<Item = &GroupFacts> {
        self.groups.iter().filter(|g| !g.is_master())
    }

    /// Every data StatefulSet at 0 replicas.
    pub fn data_stopped(&self) -> bool {
        self.data().all(|g| g.replicas == 0)
    }

    /// No pod of the cluster is left.
    pub fn no_pods(&self) -> bool {
        self.groups.iter().all(|g| g.pods == 0)
    }

    /// The counts now: the StatefulSets' (direct) or the resource's (operator).
    pub fn counts(&self, mode: Mode) -> Counts {
        let count = |g: &GroupFacts| match mode {
            Mode::Operator => g.resource_replicas,
            _ => g.replicas,
        };
        Counts {
            master: self.groups.iter().find(|g| g.is_master()).map(count),
            data: self.data().map(|g| (g.name.clone(), count(g))).collect(),
        }
    }

    /// The counts the data volumes suggest (one past the highest ordinal with a claim), as a
    /// hint for a resume without a record; empty when no claim was found.
    pub fn claim_hint(&self) -> Counts {
        let count = |g: &GroupFacts| g.claims.iter().max().map_or(0, |m| m + 1);
        Counts {
            master: self
                .groups
                .iter()
                .find(|g| g.is_master() && !g.claims.is_empty())
                .map(count),
            data: self
                .data()
                .filter(|g| !g.claims.is_empty())
                .map(|g| (g.name.clone(), count(g)))
                .collect(),
        }
    }
}

/// A plan, or nothing to do (said why).
#[derive(Clone, Debug, PartialEq)]
pub enum Planned<T> {
    Nothing(String),
    Run(T),
}

/// What a suspend will do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuspendPlan {
    pub mode: Mode,
    /// The counts recorded (and brought back by `resume`).
    pub counts: Counts,
    /// Warnings to report (`--force-direct` on an operator's resource).
    pub warnings: Vec<String>,
}

/// What a resume will do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumePlan {
    pub mode: Mode,
    pub counts: Counts,
    /// Whether the counts come from the record (else from `--replicas`).
    pub from_record: bool,
    /// Every node expected back, by name (masters first).
    pub nodes: Vec<String>,
    pub warnings: Vec<String>,
}

/// Decides a suspend.
pub fn plan_suspend(
    facts: &SuspendFacts,
    mode: Mode,
    force_direct: bool,
) -> Result<Planned<SuspendPlan>, String> {
    let mode = resolve_mode(
        mode,
        force_direct,
        facts.operator_managed,
        &facts.qualified,
        "to stop the StatefulSets anyway (the resource keeps its counts)",
    )?;
    if facts.data().next().is_none() {
        return Err(format!("{} has no data node group", facts.qualified));
    }
    if facts.data_stopped() {
        if let Some(record) = &facts.record
            && !facts.no_pods()
        {
            let left: Vec<&str> = facts
                .groups
                .iter()
                .filter(|g| g.pods > 0)
                .map(|g| g.statefulset.as_str())
                .collect();
            return Err(format!(
                "the suspend {} of {} stopped the data nodes but pods of {} still run (it did not \
                 finish): run cratectl resume {} to bring the cluster back, then suspend again",
                record.workflow_id,
                facts.qualified,
                left.join(", "),
                facts.name
            ));
        }
        return Ok(Planned::Nothing(format!(
            "nothing to do: {} is already suspended",
            facts.name
        )));
    }
    if let Some(record) = &facts.record {
        return Err(format!(
            "{} carries the suspend record of {} but its data nodes run (a suspend that stopped \
             before its first change?): run cratectl resume {} to finish it, then suspend again",
            facts.qualified, record.workflow_id, facts.name
        ));
    }
    let mut warnings = Vec::new();
    if mode == Mode::Direct && facts.operator_managed {
        warnings.push(format!(
            "--force-direct: the resource {} keeps its replica counts; the CrateDB operator acts \
             only when its spec changes",
            facts.qualified
        ));
    }
    Ok(Planned::Run(SuspendPlan {
        mode,
        counts: facts.counts(mode),
        warnings,
    }))
}

/// Parses `--replicas GROUP=N` (repeatable) into counts; `None` when none was given.
pub fn parse_replicas(args: &[String]) -> Result<Option<BTreeMap<String, u64>>, String> {
    if args.is_empty() {
        return Ok(None);
    }
    Ok(Some(parse_targets(args)?.into_iter().collect()))
}

/// Decides a resume: the record's counts, or `--replicas` when there is no record.
pub fn plan_resume(
    facts: &SuspendFacts,
    replicas: Option<&BTreeMap<String, u64>>,
    mode: Mode,
    force_direct: bool,
) -> Result<Planned<ResumePlan>, String> {
    // The mode the suspend ran in: a resume must start what it stopped, the same way.
    let (mode, force_direct) = match facts.record.as_ref().map(|r| r.mode) {
        Some(recorded @ (Mode::Direct | Mode::Operator)) => {
            if mode != Mode::Auto && mode != recorded {
                return Err(format!(
                    "{} was suspended in {recorded} mode: resume it the same way (--mode {recorded}, \
                     or no --mode)",
                    facts.name
                ));
            }
            (recorded, force_direct || recorded == Mode::Direct)
        }
        _ => (mode, force_direct),
    };
    let mode = resolve_mode(
        mode,
        force_direct,
        facts.operator_managed,
        &facts.qualified,
        "to start the StatefulSets anyway",
    )?;
    let stopped: Vec<&GroupFacts> = facts.data().filter(|g| g.replicas == 0).collect();
    if facts.record.is_none() && stopped.is_empty() {
        return Ok(Planned::Nothing(format!(
            "nothing to do: {} is not suspended",
            facts.name
        )));
    }
    let (counts, from_record) = match (&facts.record, replicas) {
        (Some(record), None) => (record.counts.clone(), true),
        (Some(record), Some(given)) => {
            let given = complete_counts(facts, given)?;
            if given != record.counts {
                return Err(format!(
                    "{} was suspended with {}: resume with {}, then `cratectl scale`",
                    facts.name,
                    record.counts.text(),
                    record.counts.text()
                ));
            }
            (given, true)
        }
        (None, Some(given)) => (complete_counts(facts, given)?, false),
        (None, None) => {
            let hint = facts.claim_hint();
            let hint = if hint.data.is_empty() {
                "no data volume claims were found to suggest counts".to_string()
            } else {
                format!(
                    "its data volume claims suggest --replicas {}",
                    hint.text().replace(", ", " --replicas ")
                )
            };
            return Err(format!(
                "{} has no suspend record ({}): it was not suspended by cratectl; give every \
                 group's count with --replicas GROUP=N ({hint})",
                facts.qualified,
                super::record::ANNOTATION
            ));
        }
    };
    if !from_record && let Some((group, _)) = counts.data.iter().find(|(_, n)| **n == 0) {
        return Err(format!(
            "the count of data group {group} is 0: a resume brings every data group back"
        ));
    }
    // A resume only brings nodes back: a group that runs more nodes than it will have would
    // lose them without a drain (that is a scale's job).
    for g in &facts.groups {
        let now = match mode {
            Mode::Operator => g.resource_replicas,
            _ => g.replicas,
        };
        let target = counts.of(&g.name).unwrap_or(now);
        if now > target {
            return Err(format!(
                "group {} of {} has {now} nodes, more than the {target} it is to be resumed with: a \
                 resume only starts nodes; remove nodes with cratectl scale",
                g.name, facts.qualified
            ));
        }
    }
    let mut nodes = Vec::new();
    for g in &facts.groups {
        for i in 0..counts.of(&g.name).unwrap_or(0) {
            nodes.push(g.node_name(i));
        }
    }
    let mut warnings = Vec::new();
    if mode == Mode::Direct && facts.operator_managed {
        warnings.push(format!(
            "--force-direct: the resource {} keeps its replica counts",
            facts.qualified
        ));
    }
    Ok(Planned::Run(ResumePlan {
        mode,
        counts,
        from_record,
        nodes,
        warnings,
    }))
}

/// `--replicas` as counts: every data group (and `master` when there are dedicated masters)
/// named, no unknown group.
fn complete_counts(facts: &SuspendFacts, given: &BTreeMap<String, u64>) -> Result<Counts, String> {
    let names: Vec<&str> = facts.groups.iter().map(|g| g.name.as_str()).collect();
    if let Some(unknown) = given.keys().find(|g| !names.contains(&g.as_str())) {
        return Err(format!(
            "--replicas: unknown node group {unknown:?} of {}; groups: {}",
            facts.qualified,
            names.join(", ")
        ));
    }
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !given.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "--replicas must name every group of {}: missing {}",
            facts.qualified,
            missing.join(", ")
        ));
    }
    Ok(Counts {
        master: given.get(MASTER_GROUP).copied(),
        data: given
            .iter()
            .filter(|(g, _)| g.as_str() != MASTER_GROUP)
            .map(|(g, n)| (g.clone(), *n))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suspend::record::VERSION;

    fn group(name: &str, replicas: u64) -> GroupFacts {
        GroupFacts {
            name: name.into(),
            data_index: (name != "master").then_some(0),
            statefulset: format!("crate-{name}-prod"),
            replicas,
            resource_replicas: replicas,
            pods: replicas,
            claims: (0..replicas).collect(),
        }
    }

    fn facts(master: Option<u64>, hot: u64, cold: u64) -> SuspendFacts {
        let mut groups: Vec<GroupFacts> = master.map(|m| group("master", m)).into_iter().collect();
        groups.push(group("hot", hot));
        groups.push(group("cold", cold));
        SuspendFacts {
            qualified: "crate/prod".into(),
            name: "prod".into(),
            groups,
            operator_managed: false,
            record: None,
        }
    }

    fn record(counts: Counts) -> SuspendRecord {
        SuspendRecord {
            version: VERSION,
            workflow_id: "suspend-prod-20261207T101500Z.crate.prod".into(),
            at: "2026-12-07T10:15:00Z".parse().unwrap(),
            counts,
            saga: Vec::new(),
            client_service: None,
            mode: Mode::Direct,
            cronjobs: Vec::new(),
            deployments: BTreeMap::new(),
        }
    }

    fn stopped(mut f: SuspendFacts) -> SuspendFacts {
        for g in &mut f.groups {
            g.replicas = 0;
            g.pods = 0;
        }
        f
    }

    fn given(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(g, n)| (g.to_string(), *n)).collect()
    }

    #[test]
    fn a_suspend_records_the_counts_that_run() {
        let Planned::Run(plan) = plan_suspend(&facts(Some(3), 3, 2), Mode::Auto, false).unwrap() else {
            panic!("expected a plan")
        };
        assert_eq!(plan.mode, Mode::Direct);
        assert_eq!(plan.counts.text(), "master=3, cold=2, hot=3");
    }

    #[test]
    fn suspending_a_suspended_cluster_is_nothing_to_do() {
        let f = stopped(facts(Some(3), 3, 2));
        assert_eq!(
            plan_suspend(&f, Mode::Auto, false).unwrap(),
            Planned::Nothing("nothing to do: prod is already suspended".into())
        );
    }

    #[test]
    fn a_record_on_a_running_cluster_asks_for_resume() {
        let mut f = facts(None, 3, 2);
        f.record = Some(record(f.counts(Mode::Direct)));
        let e = plan_suspend(&f, Mode::Auto, false).unwrap_err();
        assert!(e.contains("run cratectl resume prod to finish it"), "{e}");
        // And resume accepts it (its counts run already: the record's cleanup is what is left).
        let Planned::Run(plan) = plan_resume(&f, None, Mode::Auto, false).unwrap() else {
            panic!("expected a plan")
        };
        assert!(plan.from_record);
    }

    #[test]
    fn the_operator_mode_is_resolved_like_a_scale() {
        let mut f = facts(None, 3, 2);
        f.operator_managed = true;
        f.groups[0].resource_replicas = 4;
        let Planned::Run(plan) = plan_suspend(&f, Mode::Auto, false).unwrap() else {
            panic!("expected a plan")
        };
        assert_eq!((plan.mode, plan.counts.data["hot"]), (Mode::Operator, 4));
        let e = plan_suspend(&f, Mode::Direct, false).unwrap_err();
        assert!(
            e.contains("--force-direct to stop the StatefulSets anyway"),
            "{e}"
        );
        let Planned::Run(plan) = plan_suspend(&f, Mode::Direct, true).unwrap() else {
            panic!("expected a plan")
        };
        assert_eq!((plan.mode, plan.counts.data["hot"]), (Mode::Direct, 3));
        assert_eq!(plan.warnings.len(), 1);
    }

    #[test]
    fn a_resume_takes_the_record_s_counts_and_names_every_node() {
        let mut f = stopped(facts(Some(3), 3, 2));
        f.record = Some(record(facts(Some(3), 3, 2).counts(Mode::Direct)));
        let Planned::Run(plan) = plan_resume(&f, None, Mode::Auto, false).unwrap() else {
            panic!("expected a plan")
        };
        assert_eq!(plan.counts.text(), "master=3, cold=2, hot=3");
        assert_eq!(
            plan.nodes,
            [
                "master-0",
                "master-1",
                "master-2",
                "data-hot-0",
                "data-hot-1",
                "data-hot-2",
                "data-cold-0",
                "data-cold-1"
            ]
        );
        // The same counts given explicitly are accepted.
        let same = given(&[("master", 3), ("hot", 3), ("cold", 2)]);
        assert!(matches!(
            plan_resume(&f, Some(&same), Mode::Auto, false),
            Ok(Planned::Run(_))
        ));
    }

    #[test]
    fn a_resume_to_other_counts_is_refused() {
        let mut f = stopped(facts(None, 3, 2));
        f.record = Some(record(facts(None, 3, 2).counts(Mode::Direct)));
        let e = plan_resume(&f, Some(&given(&[("hot", 5), ("cold", 2)])), Mode::Auto, false).unwrap_err();
        assert_eq!(
            e,
            "prod was suspended with cold=2, hot=3: resume with cold=2, hot=3, then `cratectl scale`"
        );
    }

    #[test]
    fn without_a_record_replicas_must_name_every_group_and_the_claims_are_a_hint() {
        let f = stopped(facts(Some(3), 3, 2));
        let e = plan_resume(&f, None, Mode::Auto, false).unwrap_err();
        assert!(e.contains("has no suspend record"), "{e}");
        assert!(
            e.contains("suggest --replicas master=3 --replicas cold=2 --replicas hot=3"),
            "{e}"
        );
        let e = plan_resume(&f, Some(&given(&[("hot", 3), ("cold", 2)])), Mode::Auto, false).unwrap_err();
        assert!(e.contains("missing master"), "{e}");
        let e = plan_resume(
            &f,
            Some(&given(&[("master", 3), ("hot", 3), ("cold", 2), ("warm", 1)])),
            Mode::Auto,
            false,
        )
        .unwrap_err();
        assert!(e.contains("unknown node group \"warm\""), "{e}");
        let e = plan_resume(
            &f,
            Some(&given(&[("master", 3), ("hot", 0), ("cold", 2)])),
            Mode::Auto,
            false,
        )
        .unwrap_err();
        assert!(e.contains("data group hot is 0"), "{e}");
        let Planned::Run(plan) = plan_resume(
            &f,
            Some(&given(&[("master", 3), ("hot", 3), ("cold", 2)])),
            Mode::Auto,
            false,
        )
        .unwrap() else {
            panic!("expected a plan")
        };
        assert!(!plan.from_record);
    }

    #[test]
    fn resuming_a_running_cluster_is_nothing_to_do() {
        assert_eq!(
            plan_resume(&facts(None, 3, 2), None, Mode::Auto, false).unwrap(),
            Planned::Nothing("nothing to do: prod is not suspended".into())
        );
    }

    #[test]
    fn no_claims_no_hint() {
        let mut f = stopped(facts(None, 3, 2));
        for g in &mut f.groups {
            g.claims.clear();
        }
        let e = plan_resume(&f, None, Mode::Auto, false).unwrap_err();
        assert!(e.contains("no data volume claims were found"), "{e}");
    }

    #[test]
    fn a_resume_never_removes_nodes() {
        let mut f = facts(None, 5, 2);
        f.record = Some(record(facts(None, 3, 2).counts(Mode::Direct)));
        let e = plan_resume(&f, None, Mode::Auto, false).unwrap_err();
        assert!(
            e.contains("group hot of crate/prod has 5 nodes, more than the 3"),
            "{e}"
        );
    }

    #[test]
    fn a_resume_runs_in_the_suspend_s_mode() {
        // Suspended with --mode direct --force-direct on an operator's resource.
        let mut f = stopped(facts(None, 3, 2));
        f.operator_managed = true;
        for g in &mut f.groups {
            g.resource_replicas = 3;
        }
        f.record = Some(record(facts(None, 3, 3).counts(Mode::Direct)));
        let Planned::Run(plan) = plan_resume(&f, None, Mode::Auto, false).unwrap() else {
            panic!("expected a plan")
        };
        assert_eq!(plan.mode, Mode::Direct);
        let e = plan_resume(&f, None, Mode::Operator, false).unwrap_err();
        assert!(e.contains("was suspended in direct mode"), "{e}");
    }

    #[test]
    fn a_group_at_0_when_suspended_stays_at_0() {
        let mut f = stopped(facts(None, 3, 0));
        f.record = Some(record(facts(None, 3, 0).counts(Mode::Direct)));
        let Planned::Run(plan) = plan_resume(&f, None, Mode::Auto, false).unwrap() else {
            panic!("expected a plan")
        };
        assert_eq!(plan.counts.text(), "cold=0, hot=3");
        assert_eq!(plan.nodes, ["data-hot-0", "data-hot-1", "data-hot-2"]);
    }

    #[test]
    fn an_unfinished_suspend_is_not_nothing_to_do() {
        let mut f = stopped(facts(Some(3), 3, 2));
        f.groups[0].pods = 3;
        f.groups[0].replicas = 3;
        f.record = Some(record(facts(Some(3), 3, 2).counts(Mode::Direct)));
        let e = plan_suspend(&f, Mode::Auto, false).unwrap_err();
        assert!(
            e.contains("pods of crate-master-prod still run") && e.contains("run cratectl resume prod"),
            "{e}"
        );
    }

    #[test]
    fn replicas_are_parsed_as_scale_targets() {
        assert_eq!(parse_replicas(&[]), Ok(None));
        assert_eq!(
            parse_replicas(&["hot=3".into()]).unwrap(),
            Some(given(&[("hot", 3)]))
        );
        assert!(parse_replicas(&["hot=3".into(), "hot=4".into()]).is_err());
        assert!(parse_replicas(&["hot".into()]).is_err());
    }
}
