#!/usr/bin/env bash
# Installs the Debian packages the lab needs (etcd and etcdctl are not among them: scripts/etcd.sh
# builds them at the version K3s embeds). Their maintainer scripts must not start services on this
# machine (openssh-server would start an sshd): a temporary /usr/sbin/policy-rc.d that exits 101 denies that, and is removed again
# only if this script created it. Run as root.
set -eu
PACKAGES=(openssh-server socat openssl curl procps iproute2 util-linux python3-yaml fio strace)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
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
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

if [ "$(running)" != "$before" ]; then
  echo "lab deps: an sshd or etcd was started in the root namespace; stop it:" >&2
  pgrep -ax 'sshd|etcd' >&2
  exit 1
fi
echo "lab deps: installed ${missing[*]}"
