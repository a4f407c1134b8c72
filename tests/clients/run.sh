#!/usr/bin/env bash
# Runs the boto3 / AWS CLI suite against target/debug/bleepstore (or $BLEEPSTORE_BIN).
# Its venv (tests/.venv) comes from venv.sh; nothing is installed globally.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$("$here/venv.sh")"
export PATH="$venv/bin:$PATH"
exec "$venv/bin/pytest" -q -p no:cacheprovider "$here" "$@"
