#!/usr/bin/env bash
# The project's one test command: formatting, lints, every Rust test, and the real-client suite.
# Installs what it needs itself (a Python venv under tests/.venv); builds once into ./target.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# One cold build: incremental state would only cost disk (~2 GB) and time.
export CARGO_INCREMENTAL=0
step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo deny (licenses, sources, duplicate versions; advisories when reachable)"
tests/deny.sh

step "Azurite (Azure Storage emulator, from npm) for the Azure backend's tests"
(cd tests/azurite && npm ci --no-audit --no-fund --loglevel=error)

step "Kubernetes control plane for the end-to-end suite (built from the Go module proxy once, then cached)"
start=$(date +%s)
BLEEPSTORE_CONTROLPLANE_BIN="$(tests/e2e/controlplane/build.sh)"
export BLEEPSTORE_CONTROLPLANE_BIN
echo "control plane: $BLEEPSTORE_CONTROLPLANE_BIN ($(( $(date +%s) - start )) s)"

step "helm, boto3/AWS CLI and rclone (the end-to-end suite installs the chart and runs those clients)"
BLEEPSTORE_HELM="$(tests/chart/helm.sh)/bin/helm"
BLEEPSTORE_CLIENTS_VENV="$(tests/clients/venv.sh)"
BLEEPSTORE_RCLONE="$(tests/clients/rclone.sh)"
export BLEEPSTORE_HELM BLEEPSTORE_CLIENTS_VENV BLEEPSTORE_RCLONE
"$BLEEPSTORE_HELM" version --short
"$BLEEPSTORE_RCLONE" version | head -1

step "cargo test (unit, SDK integration, crash and memory tests, operator, end to end on the control plane)"
# The end-to-end suites record the operator's API calls (from the API server's audit log) here
# for the chart's RBAC check.
rm -rf target/e2e-operator-calls target/e2e-statuses
cargo test --workspace --locked

step "the data plane's storage-level suites again, with every blob in a remote S3, then in Azure"
# Same tests, same binary: BLEEPSTORE_TEST_BACKEND points each test server at a shared remote (a
# second bleepstore process / Azurite) under a prefix of its own. The suites about the local
# volume and the process itself (faults, limits, crash loop, management probes) run above only.
storage_suites=(objects:: multipart:: copy_delete:: auth_streams:: listing:: buckets:: errors::
  acl_grants:: vhost:: raw:: https:: remotes:: attributes:: conditional_writes:: s3_answers:: signed_headers::)
for backend in s3 azure; do
  BLEEPSTORE_TEST_BACKEND=$backend cargo test -p bleepstore --locked --test s3 -- "${storage_suites[@]}"
done

step "fuzz targets: a short coverage-guided run of each (libFuzzer, stable toolchain)"
tests/fuzz.sh

step "metrics lint: promtool check metrics on a live /metrics (promtool from Debian's prometheus package)"
tests/metrics/lint.sh

step "real clients: boto3 and the AWS CLI against target/debug/bleepstore"
tests/clients/run.sh

step "Helm chart: lint, template, kubernetes-validate, values schema, CRDs, examples, RBAC"
tests/chart/run.sh

step "all tests passed"
