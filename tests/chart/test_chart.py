"""The Helm chart: lint, render, validate, refuse bad values, CRDs, examples and RBAC."""

import glob
import json
import os
import pathlib
import subprocess

import jsonschema
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "bleepstore-operator"
HERE = pathlib.Path(__file__).resolve().parent
ALL_ON = HERE / "values-all-on.yaml"
CALLS = ROOT / "target" / "e2e-operator-calls"
# The Kubernetes versions the chart claims (Chart.yaml kubeVersion >=1.33).
VERSIONS = ["1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0"]


def helm(*args, check=True):
    out = subprocess.run(["helm", *args], capture_output=True, text=True)
    if check:
        assert out.returncode == 0, f"helm {args} failed:\n{out.stderr}"
    return out


def render(*values_args, namespace="ops"):
    text = helm("template", "rel", str(CHART), "--namespace", namespace, *values_args).stdout
    return text, [d for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("values", [[], ["-f", str(ALL_ON)]], ids=["defaults", "all-on"])
def test_lint_strict(values):
    out = helm("lint", "--strict", str(CHART), *values)
    assert "0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("values", [[], ["-f", str(ALL_ON)]], ids=["defaults", "all-on"])
def test_rendered_manifests_are_valid(values, version, tmp_path):
    _, docs = render(*values)
    # kubernetes-validate knows built-in kinds only: CRDs' own kinds are checked elsewhere.
    builtin = [d for d in docs if d["apiVersion"].split("/")[0] not in ("monitoring.coreos.com",)]
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(builtin))
    out = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k", version, str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    kinds = {d["kind"] for d in docs}
    if values:
        assert {"ServiceMonitor", "PodDisruptionBudget", "Role", "RoleBinding"} <= kinds
    else:
        assert {"ClusterRole", "ClusterRoleBinding", "Deployment", "ServiceAccount", "CustomResourceDefinition"} <= kinds


def test_deployment_is_restricted_and_probed():
    _, docs = render()
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    container = pod["containers"][0]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "--leader-election=true" in container["args"]
    assert deployment["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    "setting, message",
    [
        ("replicas=0", "replicas"),
        ("logFormat=xml", "logFormat"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("watchNamespaces[0]=Not_A_Namespace", "watchNamespaces"),
        ("metrics.port=80", "port"),
        ("unknownValue=1", "unknownValue"),
        ("leaderElection=false", "leaderElection"),
        ("storeImage.digest=latest", "digest"),
        ("image.digest=sha256:abc", "digest"),
    ],
)
def test_bad_values_are_refused(setting, message):
    out = helm("template", "rel", str(CHART), "--set", setting, check=False)
    assert out.returncode != 0, f"--set {setting} was accepted"
    assert "values don't meet the specifications of the schema" in out.stderr, out.stderr
    assert message in out.stderr, out.stderr


def test_one_replica_may_run_without_leader_election():
    _, docs = render("--set", "replicas=1", "--set", "leaderElection=false")
    assert not any(d["kind"] == "Role" and d["metadata"]["name"].endswith("leader-election") for d in docs)


def test_chart_crds_equal_the_generated_ones():
    assert (CHART / "files" / "crds.yaml").read_bytes() == (ROOT / "crds" / "bleepstore.io.yaml").read_bytes()


def test_crds_are_templates_kept_on_uninstall_and_optional():
    """Rendered (so `helm upgrade` upgrades them), each the generated CRD plus the annotation
    that keeps it on uninstall; none with crds.install=false."""
    _, docs = render()
    rendered = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CustomResourceDefinition"}
    generated = {d["metadata"]["name"]: d for d in yaml.safe_load_all((ROOT / "crds" / "bleepstore.io.yaml").read_text()) if d}
    assert rendered.keys() == generated.keys() == {"bleepstores.bleepstore.io", "buckets.bleepstore.io", "accesskeys.bleepstore.io"}
    for name, crd in rendered.items():
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        del crd["metadata"]["annotations"]["helm.sh/resource-policy"]
        if not crd["metadata"]["annotations"]:
            del crd["metadata"]["annotations"]
        assert crd == generated[name], name
    _, without = render("--set", "crds.install=false")
    assert not [d for d in without if d["kind"] == "CustomResourceDefinition"]


def crd_schemas():
    schemas = {}
    for crd in yaml.safe_load_all((ROOT / "crds" / "bleepstore.io.yaml").read_text()):
        if crd:
            schemas[crd["spec"]["names"]["kind"]] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schemas


def unknown_fields(schema, value, path=""):
    """Fields the schema does not declare (the API server's strict field validation)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            if not path and key in ("apiVersion", "kind", "metadata"):
                continue
            if key in props:
                found += unknown_fields(props[key], child, f"{path}.{key}")
            elif isinstance(extra, dict):
                found += unknown_fields(extra, child, f"{path}.{key}")
            else:
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += unknown_fields(schema["items"], item, f"{path}[{i}]")
    return found


def test_examples_are_valid(tmp_path):
    schemas = crd_schemas()
    seen = set()
    for path in sorted((CHART / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc["apiVersion"].startswith("bleepstore.io/"):
                schema = schemas[doc["kind"]]
                jsonschema.validate(doc, schema)
                assert unknown_fields(schema, doc) == [], path
            else:
                out = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k", VERSIONS[0], str(path)], capture_output=True, text=True)
                assert out.returncode == 0, out.stdout + out.stderr
            seen.add(doc["kind"])
    assert seen == {"BleepStore", "Bucket", "AccessKey", "Deployment", "Secret"}


def test_a_bad_example_would_be_caught():
    schema = crd_schemas()["Bucket"]
    bad = {"apiVersion": "bleepstore.io/v1alpha1", "kind": "Bucket", "metadata": {"name": "x"}, "spec": {"store": "demo", "bucketName": "Bad_Name"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    assert unknown_fields(schema, {"spec": {"store": "demo", "colour": "red"}}) == [".spec.colour"]


def operator_calls():
    files = glob.glob(str(CALLS / "*.txt"))
    assert files, f"no operator call logs in {CALLS}: run the end-to-end suite first (cargo test --workspace)"
    calls = set()
    for f in files:
        for line in pathlib.Path(f).read_text().splitlines():
            verb, group, resource = line.split()
            calls.add((verb, "" if group == "core" else group, resource))
    return calls


def granted(docs, kinds):
    out = set()
    for d in docs:
        if d["kind"] in kinds:
            for rule in d["rules"]:
                assert "resourceNames" not in rule and "nonResourceURLs" not in rule
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            assert "*" not in (group, resource, verb), f"wildcard in {d['metadata']['name']}"
                            out.add((verb, group, resource))
    return out


@pytest.mark.parametrize("values", [[], ["-f", str(ALL_ON)]], ids=["cluster-wide", "namespaced"])
def test_rbac_is_exactly_what_the_operator_calls(values):
    needed = operator_calls()
    lease_needed = {c for c in needed if c[2] == "leases"}
    other_needed = needed - lease_needed
    _, docs = render(*values)
    lease_role = [d for d in docs if d["kind"] == "Role" and d["metadata"]["name"].endswith("-leader-election")]
    assert len(lease_role) == 1 and lease_role[0]["metadata"]["namespace"] == "ops", "the Lease Role lives in the release namespace"
    assert granted(lease_role, {"Role"}) == lease_needed
    main = [d for d in docs if d not in lease_role and d["kind"] in ("Role", "ClusterRole")]
    if values:
        assert {d["metadata"]["namespace"] for d in main} == {"team-a", "team-b"}
        assert not any(d["kind"] == "ClusterRole" for d in docs), "namespaced mode grants nothing cluster-wide"
    else:
        assert [d["kind"] for d in main] == ["ClusterRole"]
    # Not a call: OwnerReferencesPermissionEnforcement checks it when the operator sets
    # blockOwnerDeletion on what a store or a key owns (the end-to-end suite runs with it on).
    # And the event recorder patches an event that repeats into a series (count, last time):
    # needed, though a run may not repeat one.
    admission = {
        ("update", "bleepstore.io", "bleepstores/finalizers"),
        ("update", "bleepstore.io", "accesskeys/finalizers"),
        ("patch", "events.k8s.io", "events"),
    }
    missing = (other_needed | admission) - granted(main, {"Role", "ClusterRole"})
    extra = granted(main, {"Role", "ClusterRole"}) - other_needed - admission
    assert not missing, f"the operator calls these but the chart does not allow them: {sorted(missing)}"
    assert not extra, f"the chart grants these but the operator never calls them: {sorted(extra)}"


def test_notes_tell_the_next_command():
    out = helm("install", "rel", str(CHART), "--dry-run=client", "--namespace", "ops")
    assert "kind: BleepStore" in out.stdout and "kubectl get bleepstores,buckets,accesskeys" in out.stdout


def test_helm_test_hook_checks_the_operator_and_a_store():
    _, docs = render("-f", str(ALL_ON))
    pod = next(d for d in docs if d["kind"] == "Pod" and d["metadata"]["name"].endswith("-test"))
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    assert container["args"][0] == "probe", "the store image's probe subcommand"
    assert container["image"] == "registry.example.com/bleepstore:0.1.0-test", "storeImage, by default"
    assert any(a.endswith("/readyz") and "-metrics." in a for a in container["args"])
    assert "http://demo-0.demo-headless.team-a.svc:9001/readyz" in container["args"]


def test_helm_test_puts_and_gets_through_s3_with_a_key_it_makes():
    """With tests.storeName (and tests.s3, the default): a Bucket and an AccessKey in the store's
    namespace, valid for the CRDs, made before the pod and deleted when the test passes; a
    restricted pod given only the key's Secret runs `probe --s3`."""
    _, docs = render("-f", str(ALL_ON))
    hooks = {d["kind"]: d for d in docs if d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test" and d["kind"] != "Pod"}
    assert hooks.keys() == {"Bucket", "AccessKey"}
    schemas = crd_schemas()
    for kind, doc in hooks.items():
        jsonschema.validate(doc, schemas[kind])
        assert unknown_fields(schemas[kind], doc) == [], kind
        assert doc["metadata"]["namespace"] == "team-a" and doc["spec"]["store"] == "demo"
        annotations = doc["metadata"]["annotations"]
        assert int(annotations["helm.sh/hook-weight"]) < 0, "made before the pod"
        assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
    assert hooks["Bucket"]["spec"]["deletionPolicy"] == "Delete"
    assert hooks["AccessKey"]["spec"]["buckets"] == [{"bucket": hooks["Bucket"]["metadata"]["name"], "access": "ReadWrite"}]
    pod = next(d for d in docs if d["kind"] == "Pod" and d["metadata"]["namespace"] == "team-a")
    # `helm test --logs` looks for a pod named like each hook in the release namespace: every
    # hook's name is the readiness pod's there, so the command does not fail on a missing pod.
    assert {d["metadata"]["name"] for d in docs if d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"} == {"rel-bleepstore-operator-test"}
    _, same_namespace = render("--set", "tests.storeName=demo", namespace="ops")
    pods = {d["metadata"]["name"]: d for d in same_namespace if d["kind"] == "Pod"}
    assert pods.keys() == {"rel-bleepstore-operator-test", "rel-bleepstore-operator-test-s3"}
    assert pods["rel-bleepstore-operator-test-s3"]["metadata"]["namespace"] == "ops"
    container = pod["spec"]["containers"][0]
    assert container["args"] == ["probe", "--s3"]
    assert container["envFrom"] == [{"secretRef": {"name": hooks["AccessKey"]["metadata"]["name"]}}]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    _, without = render("-f", str(ALL_ON), "--set", "tests.s3=false")
    assert not [d for d in without if d["kind"] in ("Bucket", "AccessKey")]
    _, defaults = render()
    assert not [d for d in defaults if d["kind"] in ("Bucket", "AccessKey")], "only with a store named"


def test_images_are_pinned_by_digest_when_one_is_set():
    digest = "sha256:" + "ab" * 32
    _, docs = render("-f", str(ALL_ON), "--set", f"storeImage.digest={digest}", "--set", f"image.digest={digest}")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"registry.example.com/bleepstore-operator:0.1.0-test@{digest}"
    assert f"--default-image=registry.example.com/bleepstore:0.1.0-test@{digest}" in container["args"]
    test_pods = [d for d in docs if d["kind"] == "Pod"]
    assert len(test_pods) == 2
    for pod in test_pods:
        assert pod["spec"]["containers"][0]["image"] == f"registry.example.com/bleepstore:0.1.0-test@{digest}"
