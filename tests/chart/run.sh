#!/usr/bin/env bash
# Tests the Helm chart: helm lint/template (default values and every option on), the rendered
# manifests against the Kubernetes versions the chart claims (kubernetes-validate --strict),
# values.schema.json refusals, CRDs identical to crds/, examples against the CRD schemas, and the
# RBAC against the operator's API calls recorded by the end-to-end suite (run cargo test first).
# Its venv and helm come from helm.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$("$here/helm.sh")"
export PATH="$venv/bin:$PATH"
helm version --short
exec "$venv/bin/pytest" -q -p no:cacheprovider "$here" "$@"
