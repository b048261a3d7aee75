#!/usr/bin/env bash
# scripts/kube.sh: build the lab's Kubernetes control plane once: kube-apiserver,
# kube-controller-manager, kube-scheduler (K3s runs all three: pkg/daemons/control/server.go
# Server()) and kubectl at the Kubernetes minor K3s v1.33 embeds, and kwok (node and pod life
# without a kubelet).
#
# Which Kubernetes: K3s v1.33.6+k3s1 embeds k8s.io/kubernetes v1.33.6 (its release-1.33 go.mod
# replaces it with k3s-io/kubernetes v1.33.6-k3s1). The Go module proxy reachable here serves
# k8s.io/kubernetes v1.33.6 but not eight of the staging modules it needs at v0.33.6 (cri-client,
# csi-translation-lib, endpointslice, externaljwt, kube-controller-manager, kube-proxy,
# kube-scheduler, pod-security-admission: HTTP 403), so this builds the nearest 1.33 patch whose
# modules are all served, v1.33.5 (only the never-imported sample-cli-plugin and
# sample-controller are missing there). The binaries are stamped as upstream's release build stamps
# them (hack/lib/version.sh, kube::version::ldflags): gitVersion v1.33.5, gitMajor 1, gitMinor 33,
# on k8s.io/component-base/version and k8s.io/client-go/pkg/version. kubectl comes from the same
# module, so its version matches the API's, as K3s's embedded kubectl does.
#
# kwok (sigs.k8s.io/kwok v0.8.0, cmd/kwok) is a module of its own (its client libraries are
# v0.36; clients may be newer than the API they talk to), built through scripts/kube/kwok/ and
# stamped as its hack/releases.sh does (sigs.k8s.io/kwok/pkg/consts.Version).
#
# k8s.io/kubernetes's go.mod points every k8s.io/<staging module> at ./staging/..., so
# `go install` refuses it: the build goes through the wrapper module in scripts/kube/ (go.mod with
# a replace per staging module to its published v0.33.5, go.sum, tools.go).
#
# Binaries go into ${K3S_HOMELAB_CACHE:-$HOME/.cache/k3s-homelab}/kube-v1.33.5/bin, printed as
# the LAST line of stdout (progress goes to stderr): BIN="$(scripts/kube.sh)". Idempotent: a stamp
# records the versions and the wrappers' hash; when it matches, the script exits at once without
# running go. One builder at a time (flock). The builds run under `nice -n 19`: this is a shared
# 2-core machine. Each build's duration is appended to build-times.log in the cache.
# Seen on the 2-core build machine (2026-12-01), modules already downloaded (go mod download: about
# 15 s): cold (empty GOCACHE) kube-apiserver 251 s, kube-controller-manager 49 s, kubectl 21 s,
# kwok 69 s (6 min 31 s in all; kube-scheduler, added later, 4 s after those); warm (stamp removed)
# 14 to 22 s; stamp matching 0.01 s. bin/ holds about 390 MiB.
# Knobs: K3S_HOMELAB_CACHE (cache root), ENGINE_GO (go binary), ENGINE_BUILD_JOBS (default 2).
set -euo pipefail

KUBE_VERSION=v1.33.5
KWOK_VERSION=v0.8.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod_dir="$here/kube"
kwok_dir="$here/kube/kwok"
cache="${K3S_HOMELAB_CACHE:-$HOME/.cache/k3s-homelab}/kube-$KUBE_VERSION"
bin="$cache/bin"
stamp="$cache/stamp"
tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwok-stages.yaml)

log() { printf 'kube.sh: %s\n' "$*" >&2; }
# shellcheck source=scripts/gobuild.sh
source "$(dirname "${BASH_SOURCE[0]}")/gobuild.sh"

wrappers_hash() {
  (cd "$mod_dir" && cat go.mod go.sum tools.go kwok/go.mod kwok/go.sum kwok/tools.go) |
    sha256sum | cut -c1-16
}
want="kubernetes=$KUBE_VERSION kwok=$KWOK_VERSION wrappers=$(wrappers_hash)"
ready() {
  [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]] || return 1
  local t
  for t in "${tools[@]}"; do [[ -s "$bin/$t" ]] || return 1; done
}
if ready; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
take_build_lock kube.sh
if ready; then
  echo "$bin"
  exit 0
fi

setup_go

tmp=""
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() { [[ -z "$tmp" ]] || rm -f "$tmp"; }
trap cleanup EXIT

minor="${KUBE_VERSION#v1.}"
minor="${minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean"
done
kwok_ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"

build() { # name, module dir, ldflags, package
  local start
  start=$(date +%s)
  tmp="$bin/.$1.tmp.$$"
  log "building $1 ($4)…"
  (cd "$2" && nice -n 19 "$go_bin" build -p "$jobs" -trimpath -ldflags "$3" -o "$tmp" "$4")
  chmod 0755 "$tmp"
  mv -f "$tmp" "$bin/$1"
  tmp=""
  local took=$(($(date +%s) - start))
  log "built $1 in ${took} s"
  printf '%s %s %s %ss\n' "$(date -u +%FT%TZ)" "$1" "$want" "$took" >>"$cache/build-times.log"
}

rm -f "$stamp"
started=$(date +%s)
build kube-apiserver "$mod_dir" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager "$mod_dir" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-controller-manager
build kube-scheduler "$mod_dir" "$kube_ldflags" k8s.io/kubernetes/cmd/kube-scheduler
build kubectl "$mod_dir" "$kube_ldflags" k8s.io/kubernetes/cmd/kubectl
build kwok "$kwok_dir" "$kwok_ldflags" sigs.k8s.io/kwok/cmd/kwok

# kwok simulates nothing without stages; kwokctl gives it its defaults (pkg/kwokctl/runtime/
# cluster.go getDefaultNodeStages with a lease, getDefaultPodStages). The same upstream files, from
# the module just built, into one config file (not committed: it is kwok's own text).
kwok_src="$(cd "$kwok_dir" && "$go_bin" list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
tmp="$bin/.kwok-stages.yaml.tmp.$$"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  printf -- '---\n# sigs.k8s.io/kwok@%s kustomize/stage/%s\n' "$KWOK_VERSION" "$f"
  cat "$kwok_src/$f"
done >"$tmp"
mv -f "$tmp" "$bin/kwok-stages.yaml"
tmp=""

# Each binary must report the version it was stamped with.
check() { # what, got, expected
  if [[ "$2" != "$3" ]]; then
    log "built $1 reports '$2', expected '$3'"
    exit 1
  fi
}
check kube-apiserver "$("$bin/kube-apiserver" --version)" "Kubernetes $KUBE_VERSION"
check kube-controller-manager "$("$bin/kube-controller-manager" --version)" "Kubernetes $KUBE_VERSION"
check kube-scheduler "$("$bin/kube-scheduler" --version)" "Kubernetes $KUBE_VERSION"
check kubectl "$("$bin/kubectl" version --client -o yaml | sed -n 's/^  gitVersion: //p')" \
  "$KUBE_VERSION"
kwok_says="$("$bin/kwok" --version | head -n1)" # "kwok version v0.8.0 go1.26.8 (linux/amd64)"
check kwok "${kwok_says%% go*}" "kwok version $KWOK_VERSION"
echo "$want" >"$stamp"
log "ready: Kubernetes $KUBE_VERSION, kwok $KWOK_VERSION in $bin ($(($(date +%s) - started)) s)"
echo "$bin"
