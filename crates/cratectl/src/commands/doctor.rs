//! `cratectl doctor CLUSTER`: finds what operations leave behind and prints the exact fix for
//! each. The rules are `cratectl_core::doctor`'s; this module reads the cluster and, with
//! `--fix`, applies the fixes that have a safe structured form.
//!
//! `--fix` never applies a fix the rules mark with a caution (an operation appears to be
//! running and may hold the setting on purpose), never deletes a Lease that has no expiry, and
//! never lifts the allocation exclusion of a node that is still a member.

use cratectl_core::doctor::{Action, DoctorInput, Finding, LabelledObject, OwnerLabel, diagnose};
use cratectl_kube::Kube;
use cratectl_kube::discovery::{Cluster, ROUTING_OWNER_LABEL};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde::Serialize;

use cratectl_core::suspend::record::SuspendRecord;

use crate::cli::{DoctorArgs, GlobalArgs, OutputFormat};
use crate::connect::{self, Target};
use crate::exit::{CliError, CliResult};
use crate::output::{print, print_structured};

/// `cratectl doctor -o json` (contract).
#[derive(Serialize)]
struct DoctorOut {
    cluster: String,
    namespace: Option<String>,
    findings: Vec<FindingOut>,
    /// What could not be checked, and why.
    unchecked: Vec<String>,
}

#[derive(Serialize)]
struct FindingOut {
    #[serde(flatten)]
    finding: Finding,
    /// With --fix: "fixed", "skipped: …" or "failed: …".
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<String>,
}

fn owner_labels(cluster: &Cluster) -> Vec<OwnerLabel> {
    let mut labels = Vec::new();
    for s in &cluster.statefulsets {
        if let Some(value) = &s.routing_owner {
            labels.push(OwnerLabel {
                object: LabelledObject::StatefulSet(s.name.clone()),
                value: value.clone(),
            });
        }
    }
    for p in &cluster.pods {
        if let Some(value) = &p.routing_owner {
            labels.push(OwnerLabel {
                object: LabelledObject::Pod(p.name.clone()),
                value: value.clone(),
            });
        }
    }
    if let Some(value) = &cluster.routing_owner {
        labels.push(OwnerLabel {
            object: LabelledObject::CrateDb(cluster.resource.clone()),
            value: value.clone(),
        });
    }
    labels
}

pub async fn run(args: DoctorArgs, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.or(top).unwrap_or_default();
    let target = connect::target(&global, args.cluster.name.as_deref()).await?;
    let mut unchecked = Vec::new();
    let client = match connect::client(&target, &global).await {
        Ok(client) => Some(client),
        Err(e) => {
            unchecked.push(format!("cluster settings: {}", e.message));
            None
        }
    };
    let settings = match &client {
        Some(client) => match client.settings().await {
            Ok(settings) => Some(settings),
            Err(e) => {
                unchecked.push(format!("cluster settings: {e}"));
                None
            }
        },
        None => None,
    };
    // The members, to tell an exclusion of a node that is gone from one of a member.
    let nodes = match (&client, &settings) {
        (Some(client), Some(_)) => match client.nodes().await {
            Ok(nodes) => Some(nodes.into_iter().map(|n| n.name).collect()),
            Err(e) => {
                unchecked.push(format!("which excluded nodes still exist (sys.nodes): {e}"));
                None
            }
        },
        _ => None,
    };
    let (namespace, owner_labels, lease, label, suspend_record) = match &target {
        Target::Kube { cluster, .. } => (
            Some(cluster.namespace.clone()),
            owner_labels(cluster),
            cluster.lease.as_ref().map(|l| l.reading()),
            cluster.name.clone(),
            cluster
                .suspend_record
                .as_deref()
                .map(|text| SuspendRecord::parse(text, &cluster.qualified())),
        ),
        Target::Url { url, .. } => {
            unchecked.push("labels and Leases: addressed by URL, Kubernetes not read".into());
            (None, Vec::new(), None, url.clone(), None)
        }
    };
    // Without a settings reading no settings finding is made; the gap is in `unchecked`.
    let findings = diagnose(&DoctorInput {
        namespace: namespace.clone().unwrap_or_default(),
        cluster: label.clone(),
        settings,
        nodes,
        owner_labels,
        lease,
        suspend_record,
        now: jiff::Timestamp::now(),
    });

    let mut out: Vec<FindingOut> = findings
        .into_iter()
        .map(|finding| FindingOut {
            finding,
            applied: None,
        })
        .collect();
    if args.fix {
        for item in &mut out {
            item.applied = Some(apply(&item.finding, &target, client.as_ref()).await);
        }
    }

    let clean = out.is_empty() && unchecked.is_empty();
    let view = DoctorOut {
        cluster: label,
        namespace,
        findings: out,
        unchecked,
    };
    if format != OutputFormat::Text {
        print_structured(format, &view)?;
    } else {
        print(&text(&view))?;
    }
    let all_fixed = view
        .findings
        .iter()
        .all(|f| f.applied.as_deref() == Some("fixed"))
        && view.unchecked.is_empty();
    if clean || (args.fix && all_fixed) {
        Ok(())
    } else {
        Err(CliError::silent_failure())
    }
}

async fn apply(finding: &Finding, target: &Target, client: Option<&cratectl_cratedb::Client>) -> String {
    if let Some(caution) = &finding.caution {
        return format!("skipped: {caution}");
    }
    match &finding.action {
        Action::None => "skipped: no automatic fix; do it by hand".to_string(),
        Action::Sql(statements) => match client {
            Some(client) => {
                for stmt in statements {
                    if let Err(e) = client.sql(stmt, &[]).await {
                        return format!("failed: {e}");
                    }
                }
                "fixed".to_string()
            }
            None => "skipped: CrateDB not reachable".to_string(),
        },
        Action::RemoveOwnerLabel(object) => match target {
            Target::Kube { kube, cluster, .. } => {
                match remove_label(kube, &cluster.namespace, object).await {
                    Ok(()) => "fixed".to_string(),
                    Err(e) => format!("failed: {e}"),
                }
            }
            Target::Url { .. } => "skipped: needs Kubernetes".to_string(),
        },
        Action::DeleteLease(name) => match target {
            Target::Kube { kube, cluster, .. } => match delete_lease(kube, &cluster.namespace, name).await {
                Ok(()) => "fixed".to_string(),
                Err(e) => format!("failed: {e}"),
            },
            Target::Url { .. } => "skipped: needs Kubernetes".to_string(),
        },
    }
}

async fn remove_label(kube: &Kube, namespace: &str, object: &LabelledObject) -> Result<(), String> {
    let patch = Patch::Merge(serde_json::json!({"metadata": {"labels": {ROUTING_OWNER_LABEL: null}}}));
    let params = PatchParams::default();
    let result = match object {
        LabelledObject::StatefulSet(name) => Api::<StatefulSet>::namespaced(kube.client.clone(), namespace)
            .patch(name, &params, &patch)
            .await
            .map(|_| ()),
        LabelledObject::Pod(name) => Api::<Pod>::namespaced(kube.client.clone(), namespace)
            .patch(name, &params, &patch)
            .await
            .map(|_| ()),
        LabelledObject::CrateDb(name) => {
            Api::<cratectl_kube::crd::CrateDB>::namespaced(kube.client.clone(), namespace)
                .patch(name, &params, &patch)
                .await
                .map(|_| ())
        }
    };
    result.map_err(|e| {
        cratectl_kube::KubeError::api(format!("removing the label from {object}"), &kube.context, e)
            .to_string()
    })
}

/// Deletes the Lease only if it is still the object that was read (resourceVersion
/// precondition is not available here, so the holder is checked right before).
async fn delete_lease(kube: &Kube, namespace: &str, name: &str) -> Result<(), String> {
    let api: Api<Lease> = Api::namespaced(kube.client.clone(), namespace);
    let current = api.get(name).await.map_err(|e| {
        cratectl_kube::KubeError::api(format!("reading Lease {namespace}/{name}"), &kube.context, e)
            .to_string()
    })?;
    let info = cratectl_kube::lease::lease_info(&current);
    if info.held_at(jiff::Timestamp::now()) {
        return Err(format!("Lease {name} was renewed meanwhile; not deleted"));
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: current.metadata.uid.clone(),
            resource_version: current.metadata.resource_version.clone(),
        }),
        ..DeleteParams::default()
    };
    api.delete(name, &params).await.map(|_| ()).map_err(|e| {
        cratectl_kube::KubeError::api(format!("deleting Lease {namespace}/{name}"), &kube.context, e)
            .to_string()
    })
}

fn text(view: &DoctorOut) -> String {
    let mut out = String::new();
    let name = view
        .namespace
        .as_ref()
        .map_or_else(|| view.cluster.clone(), |ns| format!("{ns}/{}", view.cluster));
    if view.findings.is_empty() && view.unchecked.is_empty() {
        return format!("{name}: nothing left behind.\n");
    }
    for (i, f) in view.findings.iter().enumerate() {
        out.push_str(&format!(
            "{}. [{}] {}\n",
            i + 1,
            f.finding.code,
            f.finding.message
        ));
        out.push_str(&format!("   fix: {}\n", f.finding.fix));
        if let Some(caution) = &f.finding.caution {
            out.push_str(&format!("   caution: {caution}\n"));
        }
        if let Some(applied) = &f.applied {
            out.push_str(&format!("   --fix: {applied}\n"));
        }
    }
    for gap in &view.unchecked {
        out.push_str(&format!("not checked: {gap}\n"));
    }
    if !view.findings.is_empty() && view.findings.iter().all(|f| f.applied.is_none()) {
        out.push_str("Nothing was changed; run with --fix to apply the fixes above.\n");
    }
    out
}
