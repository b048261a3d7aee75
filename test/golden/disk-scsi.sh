set -eu
WHO='k3s-vm-fawn (VM 108 on fawn)'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: disk; desired state 0123456789abcdef
VMID=108; DISK=scsi0; CACHE=writeback; IOTHREAD=1
command -v qm >/dev/null || fail "qm not found: is this a Proxmox host?"
cfg() { qm config "$VMID" "$@" || fail "qm config $VMID $* failed"; }
value() { printf '%s\n' "$1" | sed -n "s/^$2: //p"; }
opt() { printf '%s\n' "$1" | tr ',' '\n' | sed -n "s/^$2=//p" | head -n 1; }
cache_of() { c=$(opt "$1" cache); echo "${c:-none}"; }
io_of() { if [ "$(opt "$1" iothread)" = 1 ]; then echo 1; else echo 0; fi; }
# Sets cache and iothread in a drive string, keeping the volume and every other option.
rebuild() {
  printf '%s\n' "$1" | awk -F, -v cache="$CACHE" -v io="$IOTHREAD" '{
    out = $1; c = 0; t = 0
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == "cache") { c = 1; if (cache != "none") out = out ",cache=" cache; continue }
      if (kv[1] == "iothread") { t = 1; if (io == 1) out = out ",iothread=1"; continue }
      out = out "," $i
    }
    if (!c && cache != "none") out = out ",cache=" cache
    if (!t && io == 1) out = out ",iothread=1"
    print out
  }'
}
owed() {
  cur=$(cfg --current); d=$(value "$cur" "$DISK")
  [ "$(cache_of "$d")" = "$CACHE" ] || printf ' cache %s->%s' "$(cache_of "$d")" "$CACHE"
  [ "$(io_of "$d")" = "$IOTHREAD" ] || printf ' iothread %s->%s' "$(io_of "$d")" "$IOTHREAD"
  h=$(value "$cur" scsihw); [ "${h:-lsi}" = virtio-scsi-single ] || printf ' scsihw %s->virtio-scsi-single' "${h:-lsi}"
  return 0
}
current=$(cfg --current)
lock=$(value "$current" lock)
[ -z "$lock" ] || fail "VM $VMID is locked ($lock); refusing to change it while a backup, migration or snapshot runs"
pending=$(cfg)
drive=$(value "$pending" "$DISK")
[ -n "$drive" ] || fail "VM $VMID has no disk $DISK"
hw=$(value "$pending" scsihw); hw=${hw:-lsi}
if [ "$hw" != virtio-scsi-single ]; then
  fail "iothread=1 on $DISK needs the virtio-scsi-single controller but the VM has $hw; set controllerChange: true on this node once its initramfs has virtio_scsi"
fi
if [ "$(cache_of "$drive")" != "$CACHE" ] || [ "$(io_of "$drive")" != "$IOTHREAD" ]; then
  new=$(rebuild "$drive")
  qm set "$VMID" "--$DISK" "$new" >/dev/null || fail "qm set $VMID --$DISK $new failed"
  say "$DISK: $drive -> $new (applies at the restart)"
fi
OWED=$(owed)
if [ -n "$OWED" ]; then
  state=$(qm status "$VMID" | awk '{ print $2 }')
  if [ "$state" = running ]; then
    say "qm reboot $VMID to apply:$OWED"
    qm reboot "$VMID" --timeout 600 || fail "qm reboot $VMID did not complete in 600s; NOT force-stopping it. Check the guest's shutdown, then re-run"
    [ "$(qm status "$VMID" | awk '{ print $2 }')" = running ] || fail "VM $VMID is not running after qm reboot"
    left=$(owed); [ -z "$left" ] || fail "after qm reboot the VM still runs with:$left"
    say "VM restarted with the new disk options"; echo "record rebooted$OWED"
  else
    say "VM is $state: the options apply when it next starts"
  fi
else
  say "disk options already applied"
fi
echo "current: $(value "$(cfg --current)" "$DISK")"
echo "pending: $(value "$(cfg)" "$DISK")"
