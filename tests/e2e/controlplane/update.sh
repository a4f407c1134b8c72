#!/usr/bin/env bash
# Re-pins the control plane: rewrites go.mod/go.sum for another Kubernetes (and etcd) release.
#   tests/e2e/controlplane/update.sh v1.36.3 v3.6.8
# k8s.io/kubernetes replaces its k8s.io/* staging modules with local paths, which a module that
# requires it cannot use: each one it requires is replaced here by its published twin v0.<minor>.<patch>.
# etcd is go.etcd.io/etcd/server/v3 (its root package is etcd's main); pick the version
# k8s.io/kubernetes itself requires, so the graph has one etcd.
set -euo pipefail
k8s="${1:?Kubernetes version, e.g. v1.36.3}"
etcd="${2:?etcd version, e.g. v3.6.8}"
cd "$(dirname "$0")"
export GOFLAGS="-mod=mod" GOTOOLCHAIN=local
staging_version="v0.${k8s#v1.}"
rm -f go.mod go.sum
go mod init bleepstore.test/controlplane >/dev/null 2>&1
go mod edit -go=1.26.0 -require="k8s.io/kubernetes@$k8s" -require="go.etcd.io/etcd/server/v3@$etcd"
kubernetes_mod=$(go mod download -json "k8s.io/kubernetes@$k8s" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
staging=$(awk '/=> \.\/staging\/src\//{print $1}' "$kubernetes_mod")
required=$(awk '/^require \(/{r=1;next} r&&/^\)/{r=0} r{print $1} /^require [^(]/{print $2}' "$kubernetes_mod" | sort -u)
{
  echo
  echo "// Written by update.sh from k8s.io/kubernetes@$k8s go.mod: staging ./staging/src/k8s.io/X -> k8s.io/X $staging_version"
  echo "replace ("
  for m in $staging; do
    if grep -qx "$m" <<<"$required"; then printf '\t%s => %s %s\n' "$m" "$m" "$staging_version"; fi
  done
  echo ")"
} >> go.mod
go mod tidy
sed -i "s/^K8S_VERSION=.*/K8S_VERSION=$k8s/; s/^ETCD_VERSION=.*/ETCD_VERSION=$etcd/" build.sh
echo "pinned k8s.io/kubernetes $k8s and etcd $etcd; run build.sh"
