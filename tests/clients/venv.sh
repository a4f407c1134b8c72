#!/usr/bin/env bash
# Makes the clients' venv (tests/.venv: boto3, the AWS CLI, pytest) if it is missing or its
# requirements changed, and prints its path. Used by run.sh here and by the end-to-end suite,
# which runs boto3 and the AWS CLI configured only by an AccessKey's Secret.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.venv"
# (Re)install when the venv is missing or the requirements changed since the last install.
if [ ! -x "$venv/bin/pytest" ] || ! cmp -s "$here/requirements.txt" "$venv/.requirements"; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$venv/.requirements"
fi
cd "$venv" && pwd
