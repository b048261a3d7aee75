set -eu
WHO='fawn'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
if [ ! -e /sys/module/zfs/parameters/zfs_txg_timeout ]; then say "no ZFS module loaded: zfs_txg_timeout not tuned, nothing changed"; exit 0; fi
mkdir -p '/etc/modprobe.d'
tmp=$(mktemp '/etc/modprobe.d/.k3s-homelab.XXXXXX')
cat > "$tmp" <<'K3S_HOMELAB_EOF'
# Managed by k3s-homelab (Pulumi resource fawn-zfs-txg). Read when the zfs module loads.
options zfs zfs_txg_timeout=3
K3S_HOMELAB_EOF
if [ -f '/etc/modprobe.d/zz-k3s-homelab-zfs.conf' ] && cmp -s "$tmp" '/etc/modprobe.d/zz-k3s-homelab-zfs.conf'; then
  rm -f "$tmp"; CHANGED=0
else
  chmod 0644 "$tmp"; mv -f "$tmp" '/etc/modprobe.d/zz-k3s-homelab-zfs.conf'; CHANGED=1
fi
[ "$CHANGED" = 1 ] && say "wrote /etc/modprobe.d/zz-k3s-homelab-zfs.conf" || say "/etc/modprobe.d/zz-k3s-homelab-zfs.conf already up to date"
for f in /etc/modprobe.d/*.conf; do
  [ "$f" = /etc/modprobe.d/zz-k3s-homelab-zfs.conf ] && continue
  grep -Eq '^[[:space:]]*options[[:space:]]+zfs[[:space:]].*zfs_txg_timeout=' "$f" 2>/dev/null && warn "$f also sets zfs_txg_timeout; /etc/modprobe.d/zz-k3s-homelab-zfs.conf is read after it and wins"
done
live=$(cat /sys/module/zfs/parameters/zfs_txg_timeout)
if [ "$live" != 3 ]; then
  echo 3 > /sys/module/zfs/parameters/zfs_txg_timeout
  say "zfs_txg_timeout $live -> 3 (live)"
fi
[ "$(cat /sys/module/zfs/parameters/zfs_txg_timeout)" = 3 ] || fail "zfs_txg_timeout is $(cat /sys/module/zfs/parameters/zfs_txg_timeout) after writing 3"
if [ "$(findmnt -n -o FSTYPE / 2>/dev/null)" = zfs ]; then
  bootable_images() { for k in /boot/vmlinuz-*; do v=${k#/boot/vmlinuz-}; [ -f "/boot/initrd.img-$v" ] && printf ' %s' "$v"; done; return 0; }
  carries() {
    d=$(mktemp -d); ok=1
    if unmkinitramfs "$1" "$d" >/dev/null 2>&1; then f=$(find "$d" -path "*/etc/modprobe.d/zz-k3s-homelab-zfs.conf" | head -n 1); [ -n "$f" ] && cmp -s "$f" /etc/modprobe.d/zz-k3s-homelab-zfs.conf && ok=0; fi
    rm -rf "$d"; return "$ok"
  }
  stale_images() { for v in $(bootable_images); do carries "/boot/initrd.img-$v" || printf ' %s' "$v"; done; return 0; }
  stale=$(stale_images)
  if [ "$CHANGED" = 1 ] || [ -n "$stale" ]; then
    say "root is on ZFS: rebuilding the initramfs of every kernel (update-initramfs -u -k all)${stale:+; without the current option:$stale}"
    update-initramfs -u -k all >/dev/null || fail "update-initramfs -u -k all failed"
  fi
  stale=$(stale_images)
  [ -z "$stale" ] || fail "after update-initramfs -u -k all these initramfs images still lack the current /etc/modprobe.d/zz-k3s-homelab-zfs.conf:$stale"
  say "every bootable initramfs carries the option:$(bootable_images)"
fi
say "zfs_txg_timeout is 3"
