#!/usr/bin/env bash
# Build a Debian bookworm + python3 base image with debootstrap and `podman import` it as TAG.
# Official base images cannot be pulled on every machine this runs on; this one comes from the same
# Debian mirror apt uses here, and trusts the machine's CA bundle so pip works inside image builds.
# Usage: deploy/local-base.sh TAG
set -euo pipefail
tag=${1:?usage: deploy/local-base.sh TAG}
suite=bookworm
packages=python3,python3-venv,ca-certificates

mirror=$(grep -hs -E '^(URIs:|deb) ' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
  | grep -o -E 'https?://[^ ]+' | grep -v security | grep -E '/debian/?$' | head -n 1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

root=$(mktemp -d /tmp/likewise-rootfs.XXXXXX)
# debootstrap mounts /proc and /sys in the root: unmount before removing, and never cross into them.
trap 'umount -l "$root/proc" "$root/sys" 2>/dev/null || true; rm -rf --one-file-system "$root" "$root.log"' EXIT
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -n 20 "$root.log"; exit 1; }
# apt inside image builds uses the machine's sources (same mirror, plus updates and security).
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
  rm -f "$root/etc/apt/sources.list"
fi
cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/machine-bundle.crt"
chroot "$root" update-ca-certificates >/dev/null 2>&1
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
tar --numeric-owner -C "$root" -c . | podman import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "$tag"
