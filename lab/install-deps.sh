#!/usr/bin/env bash
# Installs the Debian packages the lab needs (etcd and etcdctl are not among them: scripts/etcd.sh
# builds them at the version K3s embeds). Their maintainer scripts must not start services on this
# machine (openssh-server would start an sshd): a temporary /usr/sbin/policy-rc.d that exits 101 denies that, and is removed again
# only if this script created it. Run as root; `--if-root` (npm's pretest) only reports what is
# missing when not run as root. shellcheck is for the unit tests, which lint every rendered script.
set -eu
PACKAGES=(openssh-server socat openssl curl procps iproute2 util-linux python3-yaml fio strace zstd perl shellcheck)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if [ "$(id -u)" != 0 ]; then
  [ ${#missing[@]} -eq 0 ] && exit 0
  echo "lab deps: not root, so not installing ${missing[*]} (sudo bash lab/install-deps.sh, or run the tests as root)" >&2
  [ "${1:-}" = --if-root ] && exit 0
  exit 1
fi

# initramfs-tools for the Proxmox test hosts with root on ZFS (lab/initramfs.ts): unpacked with
# dpkg-deb -x into the cache, never installed on this machine (no maintainer scripts, no hooks).
INITRAMFS_DEBS=(cpio initramfs-tools-core initramfs-tools linux-base)
INITRAMFS_DIR="${HOME}/.cache/k3s-homelab/initramfs-tools"
if [ ! -x "$INITRAMFS_DIR/usr/sbin/update-initramfs" ] || [ ! -x "$INITRAMFS_DIR/bin/cpio" ]; then
  debs=$(mktemp -d)
  (cd "$debs" && chmod 777 . && { apt-get download -q "${INITRAMFS_DEBS[@]}" || { apt-get update -qq && apt-get download -q "${INITRAMFS_DEBS[@]}"; }; })
  rm -rf "$INITRAMFS_DIR.new"
  mkdir -p "$INITRAMFS_DIR.new"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$INITRAMFS_DIR.new"; done
  rm -rf "$INITRAMFS_DIR" "$debs"
  mv "$INITRAMFS_DIR.new" "$INITRAMFS_DIR"
  echo "lab deps: unpacked ${INITRAMFS_DEBS[*]} into $INITRAMFS_DIR"
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "lab deps: all installed"
  exit 0
fi

running() { echo "$(pgrep -xc sshd) $(pgrep -xc etcd)"; }
before=$(running)
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, lab/install-deps.sh: start no services\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  trap 'rm -f "$POLICY"' EXIT
fi
echo "lab deps: installing ${missing[*]} with apt-get (the lab's test hosts run sshd, socat, sysctl, fio and strace from this machine's own packages; shellcheck lints the rendered scripts; no service is started)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

if [ "$(running)" != "$before" ]; then
  echo "lab deps: an sshd or etcd was started in the root namespace; stop it:" >&2
  pgrep -ax 'sshd|etcd' >&2
  exit 1
fi
echo "lab deps: installed ${missing[*]}"
