#!/usr/bin/env bash
# The short coverage-guided run of every fuzz target in dataplane/fuzz/ (part of tests/run.sh):
# libFuzzer with coverage instrumentation, built by the stable toolchain without a sanitizer
# (`cargo fuzz` needs nightly for its sanitizers; the long runs in tests/README.md use it).
# Each target runs BLEEPSTORE_FUZZ_SECS seconds (default 15) from an empty corpus; a crash fails
# the run and leaves its input in target/fuzz-short/artifacts/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/dataplane/fuzz"
secs="${BLEEPSTORE_FUZZ_SECS:-15}"
out="$root/target/fuzz-short"
triple="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"
# --target keeps RUSTFLAGS off build scripts and proc macros.
cargo build --locked --profile fuzz-short --target "$triple" --target-dir "$out"
mkdir -p "$out/artifacts"
for target in $(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^bleepstore-fuzz$'); do
  corpus="$(mktemp -d)"
  log="$(mktemp)"
  if ! "$out/$triple/fuzz-short/$target" -max_total_time="$secs" -rss_limit_mb=2048 \
      -artifact_prefix="$out/artifacts/$target-" "$corpus" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $target failed; its input is in $out/artifacts/" >&2
    exit 1
  fi
  printf '%-16s %s\n' "$target" "$(grep -E '^Done [0-9]+ runs' "$log")"
  rm -rf "$corpus" "$log"
done
