/** Where the disk step notes a `qm reboot` that timed out (`<epoch> <qemu pid>`), so the next run
 * (the disk step, its check and the probe) sees a VM that got the shutdown request. /run: a host
 * reboot clears it, and with it every VM restarts anyway. */
export const REBOOT_TIMEOUT_DIR = "/run/k3s-homelab";

/** The pid file of a running VM's QEMU on Proxmox VE 8 (`PVE::QemuServer::Helpers::pidfile_name`). */
export const QEMU_PID_DIR = "/var/run/qemu-server";

/**
 * Shell functions for a Proxmox host, about VM `$VMID` and its disk `$DISK`, as qemu-server
 * (stable-bookworm) defines them:
 * - `vm_state`: `qm status --verbose`'s `qmpstatus` (running, paused, io-error, prelaunch,
 *   suspended, internal-error, ...; `stopped` without QEMU), else `qm status`;
 * - `refuse_state`: fails with the right hint for every state but running and stopped;
 * - `cache_of DRIVE`: the cache QEMU really uses (`drive_uses_cache_direct`): an absent `cache=`
 *   is `none`, except on BTRFS storage without `nocow`, where QEMU's default (writeback) applies;
 * - `direct CACHE`: whether the cache mode opens the image with O_DIRECT (none, directsync);
 * - `storage_type ID` / `storage_opt ID KEY`: from `/etc/pve/storage.cfg`;
 * - `qemu_pid`, `qemu_args`: the running QEMU's pid and its command line, one argument a line;
 * - `qemu_disk`: `cache=X iothread=N` as the running QEMU has them for `$DISK` (`-drive ...,
 *   id=drive-$DISK` and its `-device`, or its virtio-scsi-single controller's `iothread=`).
 */
export function qmShellHelpers(): string[] {
  return [
    'vm_state() { s=$(qm status "$VMID" --verbose 2>/dev/null | sed -n \'s/^qmpstatus: //p\'); [ -n "$s" ] || s=$(qm status "$VMID" | awk \'{ print $2 }\'); echo "$s"; }',
    "refuse_state() {",
    '  case "$1" in',
    "    running|stopped) return 0 ;;",
    '    paused) fail "VM $VMID is paused (qm status: paused): resume it with qm resume $VMID (not qm start), then re-run" ;;',
    '    suspended) fail "VM $VMID is suspended by its guest (qm status: suspended): wake it with qm resume $VMID, then re-run" ;;',
    '    prelaunch) fail "VM $VMID is in prelaunch (QEMU waits to run the guest: a start with --freeze, or an incoming migration): qm resume $VMID runs it, then re-run" ;;',
    '    io-error) fail "VM $VMID is paused on a disk I/O error (qm status: io-error): free or repair its storage (a full pool or thin pool is the usual cause), then qm resume $VMID, then re-run" ;;',
    '    internal-error|guest-panicked) fail "VM $VMID is halted ($1): QEMU or the guest kernel hit an error; read the host journal and the task logs under /var/log/pve/tasks/, then stop and start it by hand (qm stop $VMID; qm start $VMID), then re-run" ;;',
    '    *) fail "VM $VMID is $1 (qm status --verbose), neither running nor stopped (a migration, backup or snapshot in progress?); re-run once it is running" ;;',
    "  esac",
    "}",
    'storage_type() { awk -v id="$1" \'/^[a-z]+: /{ t = $1; sub(":$", "", t); if ($2 == id) { print t; exit } }\' /etc/pve/storage.cfg 2>/dev/null || true; }',
    'storage_opt() { awk -v id="$1" -v k="$2" \'/^[a-z]+: /{ cur = $2; next } cur == id && $1 == k { print $2; exit }\' /etc/pve/storage.cfg 2>/dev/null || true; }',
    "storage_of() { printf '%s\\n' \"$1\" | cut -d, -f1 | sed -n 's/^\\([^:/]*\\):.*/\\1/p'; }",
    "cache_of() {",
    '  c=$(opt "$1" cache); if [ -n "$c" ]; then echo "$c"; return 0; fi',
    '  s=$(storage_of "$1")',
    '  if [ -n "$s" ] && [ "$(storage_type "$s")" = btrfs ] && [ "$(storage_opt "$s" nocow)" != 1 ]; then echo writeback; else echo none; fi',
    "}",
    'direct() { case "$1" in none|directsync) return 0 ;; *) return 1 ;; esac; }',
    `qemu_pid() { cat "${QEMU_PID_DIR}/$VMID.pid" 2>/dev/null || true; }`,
    'qemu_args() { p=$(qemu_pid); [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] && tr \'\\000\' \'\\n\' < "/proc/$p/cmdline"; }',
    "qemu_disk() {",
    "  args=$(qemu_args) || return 1",
    '  drv=$(printf \'%s\\n\' "$args" | grep -E "(^|,)id=drive-$DISK(,|\\$)" | head -n 1)',
    '  [ -n "$drv" ] || return 1',
    '  dev=$(printf \'%s\\n\' "$args" | grep -E "(^|,)drive=drive-$DISK(,|\\$)" | head -n 1)',
    '  ctl=$(opt "$dev" bus | cut -d. -f1)',
    '  io=0; [ -z "$(opt "$dev" iothread)" ] || io=1',
    '  if [ -n "$ctl" ] && printf \'%s\\n\' "$args" | grep -E "(^|,)id=$ctl(,|\\$)" | grep -q "iothread="; then io=1; fi',
    '  c=$(opt "$drv" cache)',
    '  echo "cache=${c:-writeback} iothread=$io"',
    "}",
  ];
}
