#!/usr/bin/env bash
# Prints the path of an rclone binary: Debian's package, fetched once (apt-get download, no root
# install) and unpacked into tests/.cache/rclone. Used by the end-to-end suite.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$(cd "$here/.." && pwd)/.cache/rclone"
rclone="$cache/usr/bin/rclone"
if [ ! -x "$rclone" ]; then
  work="$(mktemp -d)"
  (cd "$work" && { apt-get download rclone >/dev/null 2>&1 || { apt-get update -qq && apt-get download rclone >/dev/null; }; })
  mkdir -p "$cache"
  dpkg-deb -x "$work"/rclone_*.deb "$cache"
  rm -rf "$work"
fi
echo "$rclone"
