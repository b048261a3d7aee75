set -eu
WHO='k3s-vm-fawn (VM 108 on fawn)'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: disk; desired state 0123456789abcdef
VMID=108; DISK=scsi0; CACHE=writeback; IOTHREAD=1; APPLY_PENDING=0
command -v qm >/dev/null || fail "qm not found: is this a Proxmox host?"
MARK=/run/k3s-homelab/qm-reboot-timeout-$VMID
cfg() { qm config "$VMID" "$@" || fail "qm config $VMID $* failed"; }
value() { printf '%s\n' "$1" | sed -n "s/^$2: //p"; }
opt() { printf '%s\n' "$1" | tr ',' '\n' | sed -n "s/^$2=//p" | head -n 1; }
vm_state() { s=$(qm status "$VMID" --verbose 2>/dev/null | sed -n 's/^qmpstatus: //p'); [ -n "$s" ] || s=$(qm status "$VMID" | awk '{ print $2 }'); echo "$s"; }
refuse_state() {
  case "$1" in
    running|stopped) return 0 ;;
    paused) fail "VM $VMID is paused (qm status: paused): resume it with qm resume $VMID (not qm start), then re-run" ;;
    suspended) fail "VM $VMID is suspended by its guest (qm status: suspended): wake it with qm resume $VMID, then re-run" ;;
    prelaunch) fail "VM $VMID is in prelaunch (QEMU waits to run the guest: a start with --freeze, or an incoming migration): qm resume $VMID runs it, then re-run" ;;
    io-error) fail "VM $VMID is paused on a disk I/O error (qm status: io-error): free or repair its storage (a full pool or thin pool is the usual cause), then qm resume $VMID, then re-run" ;;
    internal-error|guest-panicked) fail "VM $VMID is halted ($1): QEMU or the guest kernel hit an error; read the host journal and the task logs under /var/log/pve/tasks/, then stop and start it by hand (qm stop $VMID; qm start $VMID), then re-run" ;;
    *) fail "VM $VMID is $1 (qm status --verbose), neither running nor stopped (a migration, backup or snapshot in progress?); re-run once it is running" ;;
  esac
}
storage_type() { awk -v id="$1" '/^[a-z]+: /{ t = $1; sub(":$", "", t); if ($2 == id) { print t; exit } }' /etc/pve/storage.cfg 2>/dev/null || true; }
storage_opt() { awk -v id="$1" -v k="$2" '/^[a-z]+: /{ cur = $2; next } cur == id && $1 == k { print $2; exit }' /etc/pve/storage.cfg 2>/dev/null || true; }
storage_of() { printf '%s\n' "$1" | cut -d, -f1 | sed -n 's/^\([^:/]*\):.*/\1/p'; }
cache_of() {
  c=$(opt "$1" cache); if [ -n "$c" ]; then echo "$c"; return 0; fi
  s=$(storage_of "$1")
  if [ -n "$s" ] && [ "$(storage_type "$s")" = btrfs ] && [ "$(storage_opt "$s" nocow)" != 1 ]; then echo writeback; else echo none; fi
}
direct() { case "$1" in none|directsync) return 0 ;; *) return 1 ;; esac; }
qemu_pid() { cat "/var/run/qemu-server/$VMID.pid" 2>/dev/null || true; }
qemu_args() { p=$(qemu_pid); [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] && tr '\000' '\n' < "/proc/$p/cmdline"; }
qemu_disk() {
  args=$(qemu_args) || return 1
  drv=$(printf '%s\n' "$args" | grep -E "(^|,)id=drive-$DISK(,|\$)" | head -n 1)
  [ -n "$drv" ] || return 1
  dev=$(printf '%s\n' "$args" | grep -E "(^|,)drive=drive-$DISK(,|\$)" | head -n 1)
  ctl=$(opt "$dev" bus | cut -d. -f1)
  io=0; [ -z "$(opt "$dev" iothread)" ] || io=1
  if [ -n "$ctl" ] && printf '%s\n' "$args" | grep -E "(^|,)id=$ctl(,|\$)" | grep -q "iothread="; then io=1; fi
  c=$(opt "$drv" cache)
  echo "cache=${c:-writeback} iothread=$io"
}
io_of() { if [ "$(opt "$1" iothread)" = 1 ]; then echo 1; else echo 0; fi; }
# Sets cache and iothread in a drive string, keeping the volume and every other option.
rebuild() {
  printf '%s\n' "$1" | awk -F, -v cache="$CACHE" -v io="$IOTHREAD" '{
    out = $1; c = 0; t = 0
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == "cache") { c = 1; out = out ",cache=" cache; continue }
      if (kv[1] == "iothread") { t = 1; if (io == 1) out = out ",iothread=1"; continue }
      out = out "," $i
    }
    if (!c) out = out ",cache=" cache
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
others() {
  qm pending "$VMID" | awk -v d="$DISK" '$1 == "new" || $1 == "del" { k = $2; sub(":$", "", k); if (k == d || k == "scsihw") next; if ($1 == "del") k = "delete:" k; printf " %s", k }'
}
earlier() {
  [ -f "$MARK" ] || return 0
  at=; pid=; read -r at pid < "$MARK" || true
  if [ "${pid:-}" = "$(qemu_pid)" ] || [ "$(vm_state)" = stopped ]; then echo "$(date -u -d "@$at" +%FT%TZ 2>/dev/null || echo "$at")"; else rm -f "$MARK"; fi
}
current=$(cfg --current)
lock=$(value "$current" lock)
[ -z "$lock" ] || fail "VM $VMID is locked ($lock); refusing to change it while a backup, migration or snapshot runs"
state=$(vm_state)
refuse_state "$state"
before=$(earlier)
if [ -n "$before" ]; then
  [ "$state" != stopped ] || fail "VM $VMID is stopped: an earlier qm reboot (at $before) timed out after the guest got the shutdown request, and the guest powered off later; Proxmox does not start it again (the reboot request was cleared). Start it with qm start $VMID, then re-run"
  warn "an earlier qm reboot of VM $VMID (at $before) timed out: the guest got the shutdown request and may still power off; trying qm reboot again"
fi
pending=$(cfg)
drive=$(value "$pending" "$DISK")
[ -n "$drive" ] || fail "VM $VMID has no disk $DISK"
aio=$(opt "$drive" aio)
if [ "$aio" = native ] && ! direct "$CACHE"; then
  fail "$DISK has aio=native and QEMU refuses aio=native without a direct cache (cache=$CACHE is not): VM $VMID would not start again after qm reboot. Change aio on $DISK first (set aio to io_uring or threads on $DISK in the VM resource), or set disk.cache to none or directsync"
fi
stype=$(storage_type "$(storage_of "$drive")")
if [ "$aio" = io_uring ] && ! direct "$CACHE" && { [ "$stype" = lvm ] || { [ "$stype" = rbd ] && [ "$(storage_opt "$(storage_of "$drive")" krbd)" = 1 ]; }; }; then
  warn "$DISK has aio=io_uring with cache=$CACHE on $stype storage: io_uring with a non-direct cache can hang there (qemu-server never picks it by default); consider aio=threads"
fi
OWED=$(owed)
if [ -n "$OWED" ] && [ "$state" = running ]; then
  other=$(others)
  if [ -n "$other" ] && [ "$APPLY_PENDING" != 1 ]; then
    fail "VM $VMID has other pending changes a qm reboot would apply too:$other; apply or revert them first (qm pending $VMID; in the VM resource, or wherever they come from), or set applyPendingChanges: true on this node"
  fi
  [ -z "$other" ] || say "qm reboot also applies the pending:$other (applyPendingChanges)"
fi
hw=$(value "$pending" scsihw); hw=${hw:-lsi}
[ "$hw" = virtio-scsi-single ] || fail "iothread=1 on $DISK needs the virtio-scsi-single controller but the VM's config has $hw, pending included; its VM resource owns the disk options: register etcdDiskTransform(spec) before the VM resources, then re-run"
if [ "$(cache_of "$drive")" != "$CACHE" ] || [ "$(io_of "$drive")" != "$IOTHREAD" ]; then
  fail "$DISK is $drive, pending included, not cache=$CACHE iothread=$IOTHREAD; its VM resource owns the disk options: register etcdDiskTransform(spec) before the VM resources, then re-run"
fi
OWED=$(owed)
if [ -n "$OWED" ]; then
  if [ "$state" = running ]; then
    say "qm reboot $VMID to apply:$OWED"
    if ! qm reboot "$VMID" --timeout 600; then
      mkdir -p /run/k3s-homelab; echo "$(date +%s) $(qemu_pid)" > "$MARK"
      fail "qm reboot $VMID did not complete in 600s. The VM still runs, but its guest got the shutdown request: if it finishes shutting down later, it stays off (Proxmox cleared the reboot request). NOT force-stopping it. Find out why the guest does not shut down (qemu-guest-agent, acpid), then re-run; if it has powered off, qm start $VMID"
    fi
    rm -f "$MARK"
    waited=0
    while :; do
      st=$(vm_state)
      [ "$st" != running ] || break
      case "$st" in stopped|prelaunch) ;; *) refuse_state "$st" ;; esac
      if [ "$waited" -ge 600 ]; then
        fail "VM $VMID did not start again within 600s after qm reboot (it is $st). qm reboot stops the VM and qmeventd starts it again (qm cleanup): read the start task log (/var/log/pve/tasks/, pvenode task list --vmid $VMID), journalctl -u qmeventd, and for an HA resource ha-manager status (without cluster quorum nothing starts it); NOT force-stopping or starting anything: qm start $VMID once the cause is fixed, then re-run"
      fi
      [ $((waited % 10)) -ne 0 ] || say "waiting for VM $VMID to run again after qm reboot (qmeventd starts it): $st, ${waited}s"
      sleep 2; waited=$((waited + 2))
    done
    left=$(owed); [ -z "$left" ] || fail "after qm reboot the config of VM $VMID still lacks:$left"
    if running=$(qemu_disk); then
      [ "$running" = "cache=$CACHE iothread=$IOTHREAD" ] || fail "VM $VMID runs again, but its QEMU has $running for $DISK, not cache=$CACHE iothread=$IOTHREAD (/var/run/qemu-server/$VMID.pid, /proc/PID/cmdline); qm config --current is only the config file"
      say "VM $VMID runs QEMU with $running on $DISK"
    else
      warn "cannot read the running QEMU's command line (/var/run/qemu-server/$VMID.pid); relying on qm config --current"
    fi
    say "VM restarted with the new disk options"; echo "record rebooted$OWED"
  else
    say "VM is $state: the options apply when it next starts"
  fi
else
  say "disk options already applied"
fi
echo "current: $(value "$(cfg --current)" "$DISK")"
echo "pending: $(value "$(cfg)" "$DISK")"
