#!/usr/bin/env bash
# Runs the boto3 / AWS CLI suite against target/debug/bleepstore (or $BLEEPSTORE_BIN).
# Creates its own venv under tests/.venv on first use; nothing is installed globally.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.venv"
# (Re)install when the venv is missing or the requirements changed since the last install.
if [ ! -x "$venv/bin/pytest" ] || ! cmp -s "$here/requirements.txt" "$venv/.requirements"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/.requirements"
fi
export PATH="$venv/bin:$PATH"
exec "$venv/bin/pytest" -q -p no:cacheprovider "$here" "$@"
