set -eu
WHO='k3s-vm-fawn'
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
SAME_SETTINGS=0
if [ "$CONFIG_CHANGED" = 1 ] && [ "$have" = "$WANT" ] && systemctl is-active -q k3s; then
  since=$(systemctl show --timestamp=unix -p ActiveEnterTimestamp --value k3s 2>/dev/null) || since=''
  case "$since" in
    @[0-9]*) started=${since#@} ;;
    *) since=$(TZ=UTC systemctl show -p ActiveEnterTimestamp --value k3s)
       started=$(TZ=UTC date -d "$since" +%s) || fail "cannot read when k3s started ($since)" ;;
  esac
  newest=$(for f in "$(command -v k3s)" /etc/rancher/k3s/config.yaml /etc/rancher/k3s/token /etc/rancher/k3s/agent-token; do [ ! -e "$f" ] || stat -c %Y "$f"; done | sort -n | tail -n 1)
  if [ -f /etc/rancher/k3s/k3s-homelab-started-with.yaml ] && [ "$(stat -c %Y /etc/rancher/k3s/k3s-homelab-started-with.yaml)" -ge "$started" ]; then base=/etc/rancher/k3s/k3s-homelab-started-with.yaml; else base=/etc/rancher/k3s/config.yaml; fi
  if [ "$(cat "$base" 2>/dev/null | sha256sum | cut -c1-64)" = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ] && { [ "$base" = /etc/rancher/k3s/k3s-homelab-started-with.yaml ] || [ ! -e /etc/rancher/k3s/config.yaml ] || [ "$(stat -c %Y /etc/rancher/k3s/config.yaml)" -le "$started" ]; }; then
    SAME_SETTINGS=1
    if [ "$base" != /etc/rancher/k3s/k3s-homelab-started-with.yaml ]; then (umask 077; cat /etc/rancher/k3s/config.yaml 2>/dev/null > /etc/rancher/k3s/k3s-homelab-started-with.yaml.tmp || true; mv -f /etc/rancher/k3s/k3s-homelab-started-with.yaml.tmp /etc/rancher/k3s/k3s-homelab-started-with.yaml); fi
  else
    warn "/etc/rancher/k3s/config.yaml is not the file preview compared (changed since?): K3s restarts for the new one"
  fi
fi
CONFIG_RESTARTS=$CONFIG_CHANGED; [ "$SAME_SETTINGS" = 0 ] || CONFIG_RESTARTS=0
if systemctl is-active -q k3s && { [ "$have" != "$WANT" ] || [ "$CONFIG_RESTARTS" = 1 ]; }; then
  why=$([ "$have" != "$WANT" ] && echo "upgrade-$(echo "$have-to-$WANT" | tr "+." "--")" || echo config-change)
  say "saving an etcd snapshot before the $why"
  before=$(k3s etcd-snapshot ls 2>/dev/null | awk -v n="k3s-homelab-pre-$why-" 'index($1, n) == 1 { print $1 }' | sort -u) || before=''
  out=$(k3s etcd-snapshot save --name "k3s-homelab-pre-$why" 2>&1) || fail "k3s etcd-snapshot save failed ($(printf '%s\n' "$out" | tail -n 1)); nothing was changed on this node"
  # K3s appends the node name and a timestamp; `etcd-snapshot ls` says where it went (file:// or s3://).
  after=$(k3s etcd-snapshot ls 2>/dev/null | awk -v n="k3s-homelab-pre-$why-" 'index($1, n) == 1 { print $1 }' | sort -u) || after=''
  name=$(printf '%s\n' "$after" | grep -vxF -e "$before" -e "" | tail -n 1) || name=''
  [ -n "$name" ] || fail "k3s etcd-snapshot save exited 0 but no new snapshot is listed (K3s skips the snapshot on an etcd learner member: is this server still being promoted?); nothing was changed on this node"
  loc=$(k3s etcd-snapshot ls 2>/dev/null | awk -v n="$name" '$1 == n { print $2 }' | tail -n 1) || loc=''
  say "snapshot: $name${loc:+ at $loc}"; echo "record snapshot k3s-homelab-pre-$why"
  if [ -n "$loc" ]; then echo "record snapshot_location $loc"; fi
  # K3s never prunes snapshots saved with --name: keep this tool's newest 5.
  old=$(k3s etcd-snapshot ls 2>/dev/null | awk -v n="k3s-homelab-pre-" 'index($1, n) == 1 { print $1 }' | sort -u | awk '{ t = $1; sub(/.*-/, "", t); print t, $1 }' | sort -n | head -n -5 | awk '{ print $2 }') || old=''
  if [ -n "$old" ]; then
    # shellcheck disable=SC2086 # one argument per snapshot name
    if k3s etcd-snapshot delete $old >/dev/null 2>&1; then say "deleted older snapshots: $(echo $old)"; else warn "could not delete older snapshots: $(echo $old)"; fi
  fi
fi
if [ "$CHANGED" = 1 ]; then mv -f "$STAGED" '/etc/rancher/k3s/config.yaml'; else rm -f "$STAGED"; fi
if [ "$CONFIG_CHANGED" = 1 ]; then if [ "$SAME_SETTINGS" = 1 ]; then say "wrote /etc/rancher/k3s/config.yaml: the settings K3s runs with now, in the program's form, so no restart for it (the file K3s started with is kept as /etc/rancher/k3s/k3s-homelab-started-with.yaml)"; echo "record config same-settings"; else say "wrote /etc/rancher/k3s/config.yaml (takes effect at the restart)"; echo "record config changed"; fi; fi
if [ "$have" != "$WANT" ]; then
  say "installing K3s $WANT (was ${have:-not installed}); it starts at the restart step"
  CARRIED=$({ grep -E '^CONTAINERD_[A-Za-z0-9_]*=' /etc/systemd/system/k3s.service.env; grep -Ei '^(NO|HTTP|HTTPS)_PROXY=' /etc/systemd/system/k3s.service.env; } 2>/dev/null || true)
  # The file holds install.sh's `sh -c export` lines (NAME='value'), so the shell reads them back.
  carried_env() { set -a; eval "$CARRIED"; set +a; }
  if [ -n "$CARRIED" ]; then say "the installer keeps $(printf '%s\n' "$CARRIED" | sed 's/=.*//' | tr '\n' ' ')from /etc/systemd/system/k3s.service.env"; fi
  curl -sfL 'https://get.k3s.io' | (carried_env; INSTALL_K3S_VERSION="$WANT" INSTALL_K3S_SKIP_START=true exec sh -s - server) >/dev/null || fail "the K3s installer failed for $WANT"
  now=$(k3s --version 2>/dev/null | awk 'NR==1 { print $3 }')
  [ "$now" = "$WANT" ] || fail "after installing, k3s --version says ${now:-nothing}, not $WANT"
  echo "record installed ${have:-none}->$WANT"
fi
say "prepared: K3s $WANT on disk"
if systemctl is-active -q k3s; then
  since=$(systemctl show --timestamp=unix -p ActiveEnterTimestamp --value k3s 2>/dev/null) || since=''
  case "$since" in
    @[0-9]*) started=${since#@} ;;
    *) since=$(TZ=UTC systemctl show -p ActiveEnterTimestamp --value k3s)
       started=$(TZ=UTC date -d "$since" +%s) || fail "cannot read when k3s started ($since)" ;;
  esac
  newest=$(for f in "$(command -v k3s)" /etc/rancher/k3s/config.yaml /etc/rancher/k3s/token /etc/rancher/k3s/agent-token; do [ ! -e "$f" ] || stat -c %Y "$f"; done | sort -n | tail -n 1)
  # The same settings in the program's form (preflight): only a new binary restarts K3s.
  if [ -f /etc/rancher/k3s/k3s-homelab-started-with.yaml ] && [ "$(stat -c %Y /etc/rancher/k3s/k3s-homelab-started-with.yaml)" -ge "$started" ] && [ "$(sha256sum < /etc/rancher/k3s/k3s-homelab-started-with.yaml | cut -c1-64)" = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ] && [ "$(cat /etc/rancher/k3s/config.yaml 2>/dev/null | sha256sum | cut -c1-64)" = bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb ]; then
    newest=$(stat -c %Y "$(command -v k3s)")
  fi
  if [ "$newest" -ge "$started" ]; then echo "restart-follows k3s restart (binary or config changed)"; fi
fi
