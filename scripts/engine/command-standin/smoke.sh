#!/usr/bin/env bash
# scripts/engine/command-standin/smoke.sh: end-to-end check of the command
# provider that scripts/engine.sh installed (the stand-in, or a real binary),
# through the real engine. Not run by CI; run it by hand, as root:
#
#     bash scripts/engine/command-standin/smoke.sh
#
# What it does, all inside a temp dir outside the repo (removed at the end
# unless SMOKE_KEEP=1):
#   * starts a throwaway sshd on 127.0.0.61:2222 (temp config, temp host keys:
#     ECDSA and Ed25519, AcceptEnv GREETING PULUMI_COMMAND_*), in its own mount
#     namespace so that its /run/sshd is a private tmpfs; nothing of the
#     machine's own ssh setup is read or changed. It is stopped at the end.
#   * installs @pulumi/pulumi and @pulumi/command there with npm and runs
#     smoke.mjs, an Automation API inline program (no language host needed),
#     against a file backend in the temp dir. smoke.mjs prints one line per check
#     and exits non-zero if any failed.
# Needs: openssh-server (/usr/sbin/sshd), node and npm, network to the npm
# registry (first run), and the engine: scripts/engine.sh is run first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
ADDR=127.0.0.61
PORT=2222

if [[ $EUID -ne 0 ]]; then
  echo "smoke: run as root (the throwaway sshd logs users in as root)" >&2
  exit 1
fi

BIN="$(bash "$repo/scripts/engine.sh" | tail -n 1)"
# shellcheck source=/dev/null
ENGINE_PROJECT_DIR=/nonexistent . "$repo/scripts/engine-env.sh"
[[ "$(command -v pulumi)" == "$BIN/pulumi" ]] || { echo "smoke: pulumi is not $BIN/pulumi" >&2; exit 1; }

T="$(mktemp -d /tmp/command-standin-smoke.XXXXXX)"
sshd_pid=""
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  if [[ -n "$sshd_pid" ]]; then
    # unshare --fork ignores SIGTERM while it waits for its child: stop sshd
    # itself (its pid file), then the unshare parent ends on its own.
    if [[ -s "$T/sshd/sshd.pid" ]]; then
      kill "$(cat "$T/sshd/sshd.pid")" 2>/dev/null || true
    else
      kill -KILL "$sshd_pid" 2>/dev/null || true
    fi
    wait "$sshd_pid" 2>/dev/null || true
  fi
  if [[ "${SMOKE_KEEP:-}" == 1 ]]; then
    echo "smoke: kept $T" >&2
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT

# ---- throwaway sshd ---------------------------------------------------------------
mkdir -p "$T/sshd" "$T/remote"
ssh-keygen -q -t ed25519 -N '' -C smoke-host -f "$T/sshd/host_ed25519"
ssh-keygen -q -t ecdsa -N '' -C smoke-host -f "$T/sshd/host_ecdsa"
ssh-keygen -q -t ed25519 -N '' -C smoke-client -f "$T/client"
ssh-keygen -q -t ed25519 -N '' -C smoke-wrong -f "$T/wrong_host"
cp "$T/client.pub" "$T/sshd/authorized_keys"
chmod 600 "$T/sshd/authorized_keys"
cat >"$T/sshd/sshd_config" <<EOF
ListenAddress $ADDR:$PORT
# ECDSA first: a client that does not ask for the pinned key's type gets this one.
HostKey $T/sshd/host_ecdsa
HostKey $T/sshd/host_ed25519
PidFile $T/sshd/sshd.pid
AuthorizedKeysFile $T/sshd/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AcceptEnv GREETING PULUMI_COMMAND_*
LogLevel VERBOSE
EOF

# sshd insists on /run/sshd; give it a private tmpfs /run in its own mount namespace.
# shellcheck disable=SC2016 # $1 is expanded by the inner bash
unshare --mount --fork --kill-child -- bash -c \
  'mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd && exec /usr/sbin/sshd -D -e -f "$1"' \
  _ "$T/sshd/sshd_config" 2>"$T/sshd/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null; then break; fi
  sleep 0.1
done
if ! (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null; then
  echo "smoke: sshd did not start:" >&2
  cat "$T/sshd/sshd.log" >&2
  exit 1
fi
echo "smoke: sshd on $ADDR:$PORT (pid $sshd_pid)" >&2

# ---- node project --------------------------------------------------------------
mkdir -p "$T/project" "$T/backend"
cp "$here/smoke.mjs" "$T/project/smoke.mjs"
cat >"$T/project/package.json" <<'EOF'
{ "name": "command-standin-smoke", "version": "0.0.0", "private": true }
EOF
echo "smoke: npm install…" >&2
(cd "$T/project" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
  @pulumi/pulumi@3.248.0 @pulumi/command@1.2.1 typescript@5.9.3 @types/node@20 >&2)

export SMOKE_DIR="$T" SMOKE_ADDR="$ADDR" SMOKE_PORT="$PORT"
export PULUMI_CONFIG_PASSPHRASE=smoke-not-secret
unset SSH_AUTH_SOCK
status=0
(cd "$T/project" && node smoke.mjs) || status=$?
if [[ $status -ne 0 ]]; then
  echo "smoke: FAILED (exit $status); sshd log:" >&2
  tail -n 40 "$T/sshd/sshd.log" >&2
fi
exit "$status"
