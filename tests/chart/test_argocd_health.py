"""The Argo CD health checks of charts/argocd/ (one Lua script for the three kinds), run with a
real Lua interpreter (lupa) against the statuses the end-to-end suites recorded with the health
each should have (target/e2e-statuses/*.jsonl, written by `Ns::record_health`), plus the cases a
run cannot time: a generation the operator has not seen yet, no status at all."""

import copy
import glob
import json
import pathlib

import lupa
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "charts" / "argocd"
STATUSES = ROOT / "target" / "e2e-statuses"
KINDS = ["BleepStore", "Bucket", "AccessKey"]


def scripts():
    cm = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    return {kind: cm["data"][f"resource.customizations.health.bleepstore.io_{kind}"] for kind in KINDS}


def health(script, obj):
    """Runs an Argo CD health script as Argo CD does: `obj` is the resource, the script returns
    a table with status and message."""
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    to_lua = lambda v: lua.table_from({k: to_lua(x) for k, x in v.items()}) if isinstance(v, dict) else (
        lua.table_from([to_lua(x) for x in v]) if isinstance(v, list) else v)
    lua.globals().obj = to_lua(obj)
    result = lua.execute(script)
    return result["status"], result["message"]


def recorded():
    files = glob.glob(str(STATUSES / "*.jsonl"))
    assert files, f"no recorded statuses in {STATUSES}: run the end-to-end suites first (cargo test --workspace)"
    out = []
    for f in files:
        for line in pathlib.Path(f).read_text().splitlines():
            out.append(json.loads(line))
    return out


def test_the_configmap_carries_health_lua_for_each_kind():
    lua = (ARGOCD / "health.lua").read_text()
    for kind, script in scripts().items():
        assert script == lua, f"argocd-cm.yaml's {kind} script differs from health.lua"


def test_recorded_statuses_cover_every_health_and_kind():
    records = recorded()
    assert {r["health"] for r in records} == {"Healthy", "Progressing", "Degraded"}
    assert {r["object"]["kind"] for r in records} == set(KINDS)


def test_each_recorded_status_gets_its_health():
    all_scripts = scripts()
    for r in recorded():
        obj = r["object"]
        status, message = health(all_scripts[obj["kind"]], obj)
        where = f'{obj["kind"]} {r["namespace"]}/{r["name"]}: {json.dumps(obj.get("status"))}'
        assert status == r["health"], where
        assert message, where


@pytest.mark.parametrize("kind", KINDS)
def test_an_unobserved_generation_or_no_status_is_progressing(kind):
    script = scripts()[kind]
    ready = next(r["object"] for r in recorded() if r["health"] == "Healthy" and r["object"]["kind"] == kind)
    newer = copy.deepcopy(ready)
    newer["metadata"]["generation"] = ready["status"]["observedGeneration"] + 1
    assert health(script, newer) == ("Progressing", "Waiting for the operator to reconcile the current spec")
    bare = copy.deepcopy(ready)
    del bare["status"]
    assert health(script, bare)[0] == "Progressing"
