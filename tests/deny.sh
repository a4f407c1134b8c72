#!/usr/bin/env bash
# cargo-deny over the workspace (deny.toml): licenses, sources and duplicate versions; RustSec
# advisories too when their database (on GitHub) can be fetched, else a line saying they were
# skipped. cargo-deny is built once from crates.io into tests/.tools, keyed by its version.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version=0.20.2
tool="$root/tests/.tools/cargo-deny-$version"
if [ ! -x "$tool/bin/cargo-deny" ]; then
  cargo install --locked --quiet cargo-deny --version "$version" --root "$tool" \
    --target-dir "$root/target/tools-build"
  rm -rf "$root/target/tools-build"
fi
deny="$tool/bin/cargo-deny"
cd "$root"
if timeout 60 "$deny" fetch db >/dev/null 2>&1; then
  "$deny" --log-level error check advisories licenses bans sources
else
  echo "cargo deny: the RustSec advisory database (github.com) is unreachable here: advisories skipped"
  "$deny" --log-level error check licenses bans sources
fi
