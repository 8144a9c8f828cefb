"""Conformance of cratesim with the Python Kubernetes client (Debian's python3-kubernetes).

Run by tests/python_client.rs with KUBECONFIG pointing at a running simulator. Prints one
line per check and exits non-zero on the first failure.
"""
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def check(condition, message):
    if not condition:
        print("FAIL: " + message)
        sys.exit(1)
    print("ok: " + message)


config.load_kube_config()
core = client.CoreV1Api()
apps = client.AppsV1Api()
custom = client.CustomObjectsApi()

pods = core.list_namespaced_pod("cratedb", label_selector="app.kubernetes.io/name=alpha")
names = sorted(p.metadata.name for p in pods.items)
check(names == ["crate-data-hot-alpha-%d" % i for i in range(3)], "list pods by label: %s" % names)
check(bool(pods.metadata.resource_version), "list carries a resourceVersion")

pod = core.read_namespaced_pod("crate-data-hot-alpha-0", "cratedb")
check(pod.status.container_statuses[0].ready is True, "read pod: ready")
check(pod.metadata.uid and pod.metadata.owner_references[0].kind == "StatefulSet", "pod owned by its StatefulSet")

try:
    core.read_namespaced_pod("nope", "cratedb")
    check(False, "404 for a missing pod")
except ApiException as e:
    check(e.status == 404 and "not found" in e.body, "404 for a missing pod")

sts = apps.read_namespaced_stateful_set("crate-data-hot-alpha", "cratedb")
check(sts.spec.replicas == 3 and sts.status.ready_replicas == 3, "read StatefulSet")

crs = custom.list_namespaced_custom_object("cloud.crate.io", "v1", "cratedb", "cratedbs")
check([c["metadata"]["name"] for c in crs["items"]] == ["alpha"], "list CrateDB resources")

# Delete with a grace period in the query (how this client sends it), then watch the pod go
# and come back with a new UID.
old_uid = pod.metadata.uid
core.delete_namespaced_pod("crate-data-hot-alpha-0", "cratedb", grace_period_seconds=5)
seen = []
w = watch.Watch()
for event in w.stream(core.list_namespaced_pod, "cratedb", field_selector="metadata.name=crate-data-hot-alpha-0", timeout_seconds=30):
    obj = event["object"]
    ready = bool(obj.status.container_statuses and obj.status.container_statuses[0].ready)
    seen.append((event["type"], obj.metadata.uid != old_uid, ready))
    if event["type"] != "DELETED" and obj.metadata.uid != old_uid and ready:
        w.stop()
check(("DELETED", False, True) in seen or any(t == "DELETED" for t, _, _ in seen), "watch saw the deletion: %s" % seen)
check(seen[-1][1] and seen[-1][2], "watch saw a new UID become ready: %s" % seen)
print("all checks passed")
