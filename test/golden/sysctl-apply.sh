set -eu
WHO='k3s-vm-fawn'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
mkdir -p '/etc/sysctl.d'
tmp=$(mktemp '/etc/sysctl.d/.k3s-homelab.XXXXXX')
cat > "$tmp" <<'K3S_HOMELAB_EOF'
# Managed by k3s-homelab (Pulumi resource k3s-vm-fawn-sysctl-apply). Edits are overwritten by `pulumi up`.
vm.swappiness = 10
vm.dirty_ratio = 5
vm.dirty_background_ratio = 3
K3S_HOMELAB_EOF
if [ -f '/etc/sysctl.d/99-etcd.conf' ] && cmp -s "$tmp" '/etc/sysctl.d/99-etcd.conf'; then
  rm -f "$tmp"; CHANGED=0
else
  chmod 0644 "$tmp"; mv -f "$tmp" '/etc/sysctl.d/99-etcd.conf'; CHANGED=1
fi
[ "$CHANGED" = 1 ] && say "wrote /etc/sysctl.d/99-etcd.conf" || say "/etc/sysctl.d/99-etcd.conf already up to date"
# A value is compared with tabs and repeated spaces folded, as sysctl prints them.
live() { sysctl -n "$1" 2>/dev/null | tr -s ' \t' '  '; }
WANT=$(cat <<'K3S_HOMELAB_EOF'
vm.swappiness 10
vm.dirty_ratio 5
vm.dirty_background_ratio 3
K3S_HOMELAB_EOF
)
# Prints `KEY=LIVE (want VALUE)` for each live value that differs.
mismatches() { echo "$WANT" | while read -r k v; do got=$(live "$k"); [ "$got" = "$v" ] || echo "$k=$got (want $v)"; done; }
if [ -n "$(mismatches)" ]; then
  sysctl -q -p /etc/sysctl.d/99-etcd.conf >/dev/null || fail "sysctl -p /etc/sysctl.d/99-etcd.conf failed"
  say "applied live values"
fi
BAD=$(mismatches | tr '\n' ' ')
[ -z "$BAD" ] || fail "live values did not take: $BAD"
# Files that sort after 99-etcd.conf (and /etc/sysctl.conf) are applied later at boot.
later_files() {
  for d in /etc/sysctl.d /run/sysctl.d /usr/local/lib/sysctl.d /usr/lib/sysctl.d /lib/sysctl.d; do
    for f in "$d"/*.conf; do
      [ -e "$f" ] || continue
      b=${f##*/}
      [ "$b" = 99-etcd.conf ] && continue
      [ "$(printf '%s\n%s\n' "$b" 99-etcd.conf | LC_ALL=C sort | tail -n 1)" = "$b" ] && echo "$f"
    done
  done
  [ -e /etc/sysctl.conf ] && readlink -f /etc/sysctl.conf
  return 0
}
LATER=$(later_files | sort -u)
override() {
  pattern=$(printf '%s' "$1" | sed 's/[.\/]/[.\/]/g')
  for f in $LATER; do
    if grep -Eq "^[[:space:]]*-?[[:space:]]*${pattern}[[:space:]]*=" "$f"; then
      echo "override $1 $f"; warn "$1 is set again in $f, which is applied after 99-etcd.conf at boot"
    fi
  done
}
for k in $(echo "$WANT" | cut -d" " -f1); do override "$k"; done
say "sysctl values hold"
