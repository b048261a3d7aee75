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
# virtio-scsi-single needs the virtio_scsi driver at boot, or the guest will not find its disk.
kver=$(uname -r)
if ! grep -q "/virtio_scsi.ko" "/lib/modules/$kver/modules.builtin" 2>/dev/null &&
   ! lsinitramfs "/boot/initrd.img-$kver" 2>/dev/null | grep -q "/virtio_scsi.ko"; then
  fail "controllerChange is set but the initramfs of kernel $kver lacks virtio_scsi: add it to /etc/initramfs-tools/modules and run update-initramfs -u first"
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
if systemctl is-active -q k3s && { [ "$have" != "$WANT" ] || [ "$CONFIG_CHANGED" = 1 ]; }; then
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
if [ "$CONFIG_CHANGED" = 1 ]; then say "wrote /etc/rancher/k3s/config.yaml (takes effect at the restart)"; echo "record config changed"; fi
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
