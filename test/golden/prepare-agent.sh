set -eu
WHO='k3s-agent-1'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: prepare; desired state 0123456789abcdef
vkey() { printf '%s\n' "$1" | sed -n 's/^v\([0-9]*\)\.\([0-9]*\)\.\([0-9]*\)+k3s\([0-9]*\)$/\1 \2 \3 \4/p' | awk '{ printf "%d\n", (($1 * 1000 + $2) * 1000 + $3) * 1000 + $4 }'; }
WANT=v1.33.6+k3s1
have=$(k3s --version 2>/dev/null | awk 'NR==1 { print $3 }') || have=''
if [ -n "$have" ]; then
  hk=$(vkey "$have")
  [ -n "$hk" ] || fail "cannot read the installed K3s version ($have)"
  if [ "$hk" -gt 1033006001 ]; then fail "runs $have, newer than $WANT: refusing to downgrade"; fi
  if [ $(( 1033 - hk / 1000000 )) -gt 1 ]; then
    fail "runs $have: going to $WANT would skip a minor release; upgrade one minor at a time"
  fi
fi
mkdir -p '/etc/rancher/k3s'
STAGED=$(mktemp '/etc/rancher/k3s/.k3s-homelab.XXXXXX')
trap 'rm -f "$STAGED"' EXIT
cat > "$STAGED" <<'K3S_HOMELAB_EOF'
server: https://10.0.0.21:6443
K3S_HOMELAB_EOF
chmod 0600 "$STAGED"
if [ -f '/etc/rancher/k3s/config.yaml' ] && cmp -s "$STAGED" '/etc/rancher/k3s/config.yaml'; then CHANGED=0; else CHANGED=1; fi
CONFIG_CHANGED=$CHANGED
if [ "$CHANGED" = 1 ]; then mv -f "$STAGED" '/etc/rancher/k3s/config.yaml'; else rm -f "$STAGED"; fi
if [ "$CONFIG_CHANGED" = 1 ]; then say "wrote /etc/rancher/k3s/config.yaml (takes effect at the restart)"; echo "record config changed"; fi
if [ "$have" != "$WANT" ]; then
  say "installing K3s $WANT (was ${have:-not installed}); it starts at the restart step"
  CARRIED=$({ grep -E '^CONTAINERD_[A-Za-z0-9_]*=' /etc/systemd/system/k3s-agent.service.env; grep -Ei '^(NO|HTTP|HTTPS)_PROXY=' /etc/systemd/system/k3s-agent.service.env; } 2>/dev/null || true)
  # The file holds install.sh's `sh -c export` lines (NAME='value'), so the shell reads them back.
  carried_env() { set -a; eval "$CARRIED"; set +a; }
  if [ -n "$CARRIED" ]; then say "the installer keeps $(printf '%s\n' "$CARRIED" | sed 's/=.*//' | tr '\n' ' ')from /etc/systemd/system/k3s-agent.service.env"; fi
  curl -sfL 'https://get.k3s.io' | (carried_env; INSTALL_K3S_VERSION="$WANT" INSTALL_K3S_SKIP_START=true exec sh -s - agent) >/dev/null || fail "the K3s installer failed for $WANT"
  now=$(k3s --version 2>/dev/null | awk 'NR==1 { print $3 }')
  [ "$now" = "$WANT" ] || fail "after installing, k3s --version says ${now:-nothing}, not $WANT"
  echo "record installed ${have:-none}->$WANT"
fi
say "prepared: K3s $WANT on disk"
