#!/usr/bin/env bash
# scripts/engine.sh: make the Pulumi engine available offline, building it once.
#
# Puts `pulumi` (v3.248.0) into
#   ${K3S_HOMELAB_CACHE:-$HOME/.cache/k3s-homelab}/engine/bin
# installs the `command` resource provider 1.2.1 into the cache's PULUMI_HOME,
# and prints that bin directory as the LAST line of stdout (and only that on
# stdout; progress goes to stderr), so callers can do:  BIN="$(scripts/engine.sh)".
# For the environment (PATH, PULUMI_HOME, ...) source scripts/engine-env.sh.
# Programs run through the Automation API (inline programs), which needs no
# language host, so none is built.
#
# Where the binaries come from (no download site is reachable from our machines,
# only package registries):
#   * pulumi: github.com/pulumi/pulumi/pkg/v3@v3.248.0, main package cmd/pulumi,
#     built from the Go module proxy through the wrapper module in
#     scripts/engine/ (go.mod, go.sum, tools.go). `go install pkg@version` can't
#     be used because pkg/v3's go.mod has replace directives.
#   * pulumi-resource-command 1.2.1: github.com/pulumi/pulumi-command/provider
#     is refused by the module proxy (HTTP 403), so the real provider can't be
#     built here. If you have the real binary, set
#     ENGINE_COMMAND_PROVIDER_BIN=/path/to/it and that is installed. Otherwise
#     the k3s-homelab stand-in (scripts/engine/command-standin, its own Go
#     module against sdk/v3@v3.248.0; see its README for how it differs) is
#     built and installed. Either way with `pulumi plugin install resource
#     command 1.2.1 --file` into the cache's PULUMI_HOME, and a line on stderr
#     says which one is installed.
#   * pulumi-resource-pulumi-nodejs (dynamic providers): a 3-line shim in bin/
#     that runs @pulumi/pulumi/cmd/dynamic-provider, as the official CLI
#     tarball ships it.
#
# Idempotent: a stamp file records what was built and installed; when it
# matches, the script exits at once without running go. If a `pulumi` of the
# wanted version is on PATH, it is linked instead of built.
#
# Knobs: K3S_HOMELAB_CACHE (cache root), ENGINE_GO (go binary),
#        ENGINE_BUILD_JOBS (go build -p, default 2), ENGINE_COMMAND_PROVIDER_BIN.
set -euo pipefail

PULUMI_VERSION=v3.248.0
COMMAND_VERSION=1.2.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod_dir="$here/engine"
cache="${K3S_HOMELAB_CACHE:-$HOME/.cache/k3s-homelab}/engine"
bin="$cache/bin"
stamp="$cache/stamp"
export PULUMI_HOME="$cache/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

log() { printf 'engine: %s\n' "$*" >&2; }
# shellcheck source=scripts/gobuild.sh
source "$(dirname "${BASH_SOURCE[0]}")/gobuild.sh"

# What the stamp must say: versions plus a hash of the wrapper module (and of
# the command provider: the real binary's hash, or the stand-in's sources), so
# that editing go.mod/go.sum or the stand-in rebuilds. Cheap: no go, no network.
standin_dir="$mod_dir/command-standin"
wrapper_hash() {
  (cd "$mod_dir" && cat go.mod go.sum tools.go) | sha256sum | cut -c1-16
}
standin_hash() {
  (cd "$standin_dir" && cat go.mod go.sum ./*.go) | sha256sum | cut -c1-16
}
if [[ -n "${ENGINE_COMMAND_PROVIDER_BIN:-}" && ! -f "$ENGINE_COMMAND_PROVIDER_BIN" ]]; then
  log "ENGINE_COMMAND_PROVIDER_BIN=$ENGINE_COMMAND_PROVIDER_BIN is not a file"
  exit 1
fi
command_source() {
  if [[ -n "${ENGINE_COMMAND_PROVIDER_BIN:-}" ]]; then
    echo "file:$(sha256sum <"$ENGINE_COMMAND_PROVIDER_BIN" | cut -c1-16)"
  else
    echo "standin:$(standin_hash)"
  fi
}
want_engine="pulumi=$PULUMI_VERSION wrapper=$(wrapper_hash)"
want_command="command=$COMMAND_VERSION/$(command_source)"

command_plugin_dir="$PULUMI_HOME/plugins/resource-command-v$COMMAND_VERSION"
standin_cache="$cache/command-standin"
say_command() {
  if [[ "$want_command" == *"/standin:"* ]]; then
    log "command provider: stand-in (the real pulumi-resource-command cannot be fetched here;" \
      "set ENGINE_COMMAND_PROVIDER_BIN to use a real one)"
  else
    log "command provider: real pulumi-resource-command $COMMAND_VERSION from $ENGINE_COMMAND_PROVIDER_BIN"
  fi
}

# The stamp has two lines: "engine: <want_engine>[ external=DIR]" and <want_command>.
stamp_line() { sed -n "${1}p" "$stamp" 2>/dev/null; }
engine_ready() {
  local have
  have="$(stamp_line 1)"
  [[ "$have" == "engine: $want_engine" || "$have" == "engine: $want_engine external="* ]] || return 1
  [[ -x "$bin/pulumi" && -x "$bin/pulumi-resource-pulumi-nodejs" ]]
}
command_ready() {
  [[ "$(stamp_line 2)" == "$want_command" ]] || return 1
  [[ -x "$command_plugin_dir/pulumi-resource-command" ]]
}
finish() {
  say_command
  echo "$bin"
  exit 0
}

# ---- fast path ---------------------------------------------------------------
if engine_ready && command_ready; then
  finish
fi

# ---- slow path: one builder at a time per cache --------------------------------
mkdir -p "$bin" "$PULUMI_HOME"
take_build_lock engine.sh
if engine_ready && command_ready; then # another builder finished the job
  finish
fi

tmp_files=()
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() { ((${#tmp_files[@]})) && rm -f "${tmp_files[@]}"; return 0; }
trap cleanup EXIT

# Atomically place $2 at $bin/$1.
install_bin() {
  chmod 0755 "$2"
  mv -f "$2" "$bin/$1"
}


# The dynamic-provider plugin: the official CLI tarball ships this script next to
# `pulumi`; the engine finds it there (or on PATH). It resolves @pulumi/pulumi
# from the program's directory (the plugin's working directory).
write_dynamic_provider_shim() {
  local t="$bin/.pulumi-resource-pulumi-nodejs.tmp.$$"
  tmp_files+=("$t")
  cat >"$t" <<'EOF'
#!/bin/sh
# Written by scripts/engine.sh: runs @pulumi/pulumi's dynamic provider host.
script=$(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))") || exit 1
exec node "$script" "$@"
EOF
  install_bin pulumi-resource-pulumi-nodejs "$t"
}

build_engine() {
  rm -f "$stamp"
  # ---- reuse a pulumi already on PATH -------------------------------------------
  external=""
  IFS=: read -r -a path_dirs <<<"${PATH:-}"
  for d in "${path_dirs[@]}"; do
    [[ -n "$d" && "$d" != "$bin" && -x "$d/pulumi" ]] || continue
    if [[ "$("$d/pulumi" version 2>/dev/null || true)" == "$PULUMI_VERSION" ]]; then
      external="$d"
      break
    fi
  done

  if [[ -n "$external" ]]; then
    log "using pulumi $PULUMI_VERSION found on PATH in $external"
    ln -sfn "$external/pulumi" "$bin/pulumi"
  else
    # ---- build from the Go module proxy -------------------------------------------
    setup_go
    version_pkg=github.com/pulumi/pulumi/sdk/v3/go/common/version

    go_build() { # out-name, ldflags, package
      local t="$bin/.$1.tmp.$$"
      tmp_files+=("$t")
      (cd "$mod_dir" && "$go_bin" build -p "$jobs" -trimpath -ldflags "$2" -o "$t" "$3")
      install_bin "$1" "$t"
    }

    log "building pulumi $PULUMI_VERSION (first build takes several minutes)…"
    go_build pulumi "-s -w -X $version_pkg.Version=$PULUMI_VERSION" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  fi
  # The language host earlier versions of this script built is no longer used.
  rm -f "$bin/pulumi-language-nodejs"

  got="$("$bin/pulumi" version)"
  if [[ "$got" != "$PULUMI_VERSION" ]]; then
    log "built pulumi reports '$got', expected $PULUMI_VERSION"
    exit 1
  fi
  write_dynamic_provider_shim
  printf 'engine: %s\n' "$want_engine${external:+ external=$external}" >"$stamp" # drops line 2
}

if ! engine_ready; then
  build_engine
fi
engine_line="$(stamp_line 1)"

# ---- command provider ---------------------------------------------------------
# The real binary when one is given, else the stand-in, built into the cache
# (reused while its sources' hash matches). Installing replaces what was there.
build_standin() {
  local out="$standin_cache/pulumi-resource-command" hash
  hash="$(standin_hash)"
  if [[ -x "$out" && "$(cat "$standin_cache/stamp" 2>/dev/null)" == "$hash" ]]; then
    return 0
  fi
  setup_go
  mkdir -p "$standin_cache"
  rm -f "$standin_cache/stamp"
  local t="$standin_cache/.pulumi-resource-command.tmp.$$"
  tmp_files+=("$t")
  log "building the pulumi-resource-command $COMMAND_VERSION stand-in…"
  (cd "$standin_dir" && "$go_bin" build -p "$jobs" -trimpath -ldflags "-s -w" -o "$t" .)
  chmod 0755 "$t"
  mv -f "$t" "$out"
  echo "$hash" >"$standin_cache/stamp"
}
if ! command_ready; then
  if [[ -n "${ENGINE_COMMAND_PROVIDER_BIN:-}" ]]; then
    provider_bin="$ENGINE_COMMAND_PROVIDER_BIN"
  else
    build_standin
    provider_bin="$standin_cache/pulumi-resource-command"
  fi
  log "installing pulumi-resource-command $COMMAND_VERSION from $provider_bin…"
  "$bin/pulumi" plugin install resource command "$COMMAND_VERSION" \
    --file "$provider_bin" --reinstall >&2
  printf '%s\n%s\n' "$engine_line" "$want_command" >"$stamp"
fi

log "ready: $("$bin/pulumi" version) in $bin"
finish
