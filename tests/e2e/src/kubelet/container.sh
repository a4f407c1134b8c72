#!/bin/sh
# Starts one container. Run by the kubelet inside the pod's network and UTS namespaces and a
# mount namespace of the container's own:
#   container.sh ROOT MOUNTS UID:GID GROUPS READ_ONLY -- COMMAND [ARG]...
# ROOT (an empty directory) becomes the container's root: a tmpfs holding the host's system
# directories read-only (the "image": its libraries and tools), the few files of /etc a
# distroless image has, /proc, /dev, and the pod's volumes at their mount paths. MOUNTS has one line per mount: SOURCE<TAB>TARGET<TAB>ro|rw.
# With READ_ONLY=true the root itself is then made read-only, as readOnlyRootFilesystem asks.
# The command runs as UID:GID with the supplementary GROUPS (comma-separated, may be empty).
set -eu
root=$1 mounts=$2 user=$3 groups=$4 read_only=$5
shift 6
mount -t tmpfs -o mode=0755 container-root "$root"
for dir in usr/bin usr/sbin usr/lib usr/lib64 usr/libexec usr/share; do
  [ -d "/$dir" ] || continue
  mkdir -p "$root/$dir"
  mount --rbind "/$dir" "$root/$dir"
  mount -o remount,bind,ro "$root/$dir"
done
for link in bin sbin lib lib64; do
  if [ -L "/$link" ]; then
    ln -s "$(readlink "/$link")" "$root/$link"
  elif [ -d "/$link" ]; then
    mkdir "$root/$link"
    mount --rbind "/$link" "$root/$link"
    mount -o remount,bind,ro "$root/$link"
  fi
done
mkdir -p "$root/etc"
for entry in hosts resolv.conf nsswitch.conf passwd group localtime ssl ca-certificates; do
  [ -e "/etc/$entry" ] || continue
  if [ -d "/etc/$entry" ]; then mkdir "$root/etc/$entry"; else : > "$root/etc/$entry"; fi
  mount --rbind "/etc/$entry" "$root/etc/$entry"
  mount -o remount,bind,ro "$root/etc/$entry"
done
mkdir -p "$root/proc" "$root/dev" "$root/tmp" "$root/usr/local/bin"
chmod 1777 "$root/tmp"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
tab=$(printf '\t')
while IFS="$tab" read -r source target mode; do
  if [ -d "$source" ]; then
    mkdir -p "$root$target"
  else
    mkdir -p "$(dirname "$root$target")"
    : > "$root$target"
  fi
  mount --bind "$source" "$root$target"
  if [ "$mode" = ro ]; then
    mount -o remount,bind,ro "$root$target"
  fi
done < "$mounts"
if [ "$read_only" = true ]; then
  mount -o remount,ro "$root"
fi
if [ -n "$groups" ]; then
  exec chroot --userspec="$user" --groups="$groups" "$root" "$@"
fi
exec chroot --userspec="$user" "$root" "$@"
