# shellcheck shell=bash disable=SC2154,SC2034 # cache and log come from the caller; go_bin and jobs are for it
# Sourced by scripts/engine.sh, etcd.sh and kube.sh: what their Go builds share. Each caller sets
# `cache` (its cache dir) and defines `log` before calling these.

# Takes the cache's build lock on fd 9, waiting (and saying so) while another build holds it.
# $1: the builder's name for the message.
take_build_lock() {
  exec 9>"$cache/.lock"
  if ! flock -n 9; then
    log "another $1 is building in $cache; waiting for it..."
    flock 9
  fi
}

# Go for the builds (`go_bin`, `jobs`), with the module and build caches inside the cache dir.
setup_go() {
  go_bin="${ENGINE_GO:-$(command -v go || echo /usr/local/go/bin/go)}"
  if [[ ! -x "$go_bin" ]]; then
    log "go not found (tried PATH and /usr/local/go/bin/go); set ENGINE_GO"
    exit 1
  fi
  export GOMODCACHE="$cache/gomodcache" GOCACHE="$cache/gocache"
  # -mod=readonly: build exactly what go.mod/go.sum pin, never edit them.
  # -modcacherw: lets `rm -rf` clean the cache. CGO off, like the official releases.
  export GOFLAGS="-mod=readonly -modcacherw -buildvcs=false" CGO_ENABLED=0
  jobs="${ENGINE_BUILD_JOBS:-2}"
}
