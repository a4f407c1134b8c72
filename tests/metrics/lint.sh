#!/usr/bin/env bash
# Lints the data plane's /metrics with promtool (from Debian's prometheus package, fetched once
# into tests/.cache and reused). A real bleepstore serves a few requests first, so every metric
# family has samples.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$here/../.."
cache="$repo/tests/.cache/promtool"
promtool="$cache/usr/bin/promtool"
if [ ! -x "$promtool" ]; then
  work="$(mktemp -d)"
  (cd "$work" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null; }; })
  mkdir -p "$cache"
  dpkg-deb -x "$work"/prometheus_*.deb "$cache"
  rm -rf "$work"
fi
"$promtool" --version | head -1

bin="${BLEEPSTORE_BIN:-$repo/target/debug/bleepstore}"
data="$(mktemp -d)"
coproc STORE { BLEEPSTORE_ROOT_ACCESS_KEY=LINTKEY BLEEPSTORE_ROOT_SECRET_KEY=lint-secret-key exec "$bin" \
  --data-dir "$data/data" --listen 127.0.0.1:0 --management-listen 127.0.0.1:0 --log-level warn 2>/dev/null; }
pid=$STORE_PID
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
s3="" mgmt=""
# The start-up banner names both ports; reading it blocks until the server has bound them.
while IFS= read -r line <&"${STORE[0]}"; do
  case "$line" in
    "BleepStore is serving S3 at "*) s3="${line#BleepStore is serving S3 at }" ;;
    *management:*) mgmt="$(awk '{print $2}' <<<"$line")"; break ;;
  esac
done
[ -n "$s3" ] && [ -n "$mgmt" ] || { echo "bleepstore exited before serving" >&2; exit 1; }
# A few requests (refused anonymous ones are enough) so that the request families have samples.
curl -s -o /dev/null "$s3/"
curl -s -o /dev/null -X PUT "$s3/lint-bucket"
curl -s -o /dev/null "$s3/lint-bucket/key"
curl -s "$mgmt/metrics" >"$data/metrics.txt"
grep -q '^bleepstore_http_requests_total' "$data/metrics.txt"
"$promtool" check metrics <"$data/metrics.txt"
echo "promtool check metrics: clean"
