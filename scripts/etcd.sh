#!/usr/bin/env bash
# scripts/etcd.sh: build etcd and etcdctl for the lab, once, at the etcd minor K3s v1.33 embeds.
#
# K3s release-1.33's go.mod replaces go.etcd.io/etcd/* with k3s-io/etcd v3.5.26-k3s1. The Go
# module proxy reachable here does not serve v3.5.26 (HTTP 403), so this builds the nearest
# 3.5 patch it serves for both modules, v3.5.33 (`go list -m go.etcd.io/etcd/server/v3@v3.5.33`):
# same minor, same listeners, grpc-gateway and learner rules. Binaries go into
#   ${K3S_HOMELAB_CACHE:-$HOME/.cache/k3s-homelab}/etcd-v3.5.33/bin
# and that directory is printed as the LAST line of stdout (progress goes to stderr), so callers
# can do:  BIN="$(scripts/etcd.sh)". The lab copies both into its shared dir for the guests
# (never onto their PATH: real K3s guests have no etcdctl).
#
# go.etcd.io/etcd/server/v3's go.mod has replace directives, so `go install pkg@version` refuses
# it: the build goes through the wrapper module in scripts/etcd/ (go.mod, go.sum, tools.go).
# Idempotent: a stamp records the version and the wrapper's hash; when it matches, the script
# exits at once without running go. One builder at a time (flock).
# Knobs: K3S_HOMELAB_CACHE (cache root), ENGINE_GO (go binary), ENGINE_BUILD_JOBS (default 2).
set -euo pipefail

ETCD_VERSION=v3.5.33

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod_dir="$here/etcd"
cache="${K3S_HOMELAB_CACHE:-$HOME/.cache/k3s-homelab}/etcd-$ETCD_VERSION"
bin="$cache/bin"
stamp="$cache/stamp"

log() { printf 'etcd.sh: %s\n' "$*" >&2; }
# shellcheck source=scripts/gobuild.sh
source "$(dirname "${BASH_SOURCE[0]}")/gobuild.sh"

want="etcd=$ETCD_VERSION wrapper=$( (cd "$mod_dir" && cat go.mod go.sum tools.go) | sha256sum | cut -c1-16)"
ready() {
  [[ "$(cat "$stamp" 2>/dev/null)" == "$want" && -x "$bin/etcd" && -x "$bin/etcdctl" ]]
}
if ready; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
take_build_lock etcd.sh
if ready; then
  echo "$bin"
  exit 0
fi

setup_go

rm -f "$stamp"
start=$(date +%s)
for tool in etcd etcdctl; do
  pkg=go.etcd.io/etcd/server/v3
  [[ "$tool" == etcdctl ]] && pkg=go.etcd.io/etcd/etcdctl/v3
  t="$bin/.$tool.tmp.$$"
  log "building $tool $ETCD_VERSION ($pkg)…"
  (cd "$mod_dir" && "$go_bin" build -p "$jobs" -trimpath -ldflags "-s -w" -o "$t" "$pkg")
  chmod 0755 "$t"
  mv -f "$t" "$bin/$tool"
done
got="$("$bin/etcd" --version | sed -n 's/^etcd Version: //p')"
if [[ "v$got" != "$ETCD_VERSION" ]]; then
  log "built etcd reports '$got', expected $ETCD_VERSION"
  exit 1
fi
echo "$want" >"$stamp"
log "ready: etcd $got in $bin ($(($(date +%s) - start)) s)"
echo "$bin"
