import { QEMU_PID_DIR, qmShellHelpers, REBOOT_TIMEOUT_DIR } from "./qmShell";
import { prelude } from "./shell";

export interface DiskTarget {
  /** Names the node and VM in every message, e.g. `k3s-vm-pve (VM 105 on pve)`. */
  readonly who: string;
  readonly vmid: number;
  /** The Proxmox drive key, e.g. `scsi0`. */
  readonly disk: string;
  readonly cache: string;
  readonly iothread: boolean;
  /** The node opted in to switching the controller to virtio-scsi-single. */
  readonly controllerChange: boolean;
  /** The node opted in to a `qm reboot` that also applies the VM's other pending changes. */
  readonly applyPendingChanges: boolean;
  /** Longest wait for `qm reboot`'s clean shutdown, and then for the VM to run again. */
  readonly rebootTimeoutSeconds: number;
  /** A hash of the node's desired roll state, so this step re-runs when any part changes. */
  readonly fingerprint: string;
  /** Who sets the options: the roll (`qm set`, the default) or the caller's VM resource, when
   * the step only checks that they are pending and restarts the VM to apply them. */
  readonly optionsOwner?: "roll" | "vm-resource";
}

/** Shell functions both disk scripts use: read the VM config, a drive's cache and iothread, and
 * `owed`, what the VM's config file without its pending section (`qm config --current`) still
 * lacks; `others`, the pending changes a `qm reboot` would apply besides ours; `earlier`, the
 * note of an earlier `qm reboot` that timed out while the same QEMU still runs. */
function diskHelpers(t: DiskTarget): string[] {
  const needsSingle = t.iothread && t.disk.startsWith("scsi");
  return [
    'command -v qm >/dev/null || fail "qm not found: is this a Proxmox host?"',
    `MARK=${REBOOT_TIMEOUT_DIR}/qm-reboot-timeout-$VMID`,
    'cfg() { qm config "$VMID" "$@" || fail "qm config $VMID $* failed"; }',
    'value() { printf \'%s\\n\' "$1" | sed -n "s/^$2: //p"; }',
    "opt() { printf '%s\\n' \"$1\" | tr ',' '\\n' | sed -n \"s/^$2=//p\" | head -n 1; }",
    ...qmShellHelpers(),
    'io_of() { if [ "$(opt "$1" iothread)" = 1 ]; then echo 1; else echo 0; fi; }',
    "# Sets cache and iothread in a drive string, keeping the volume and every other option.",
    "rebuild() {",
    '  printf \'%s\\n\' "$1" | awk -F, -v cache="$CACHE" -v io="$IOTHREAD" \'{',
    "    out = $1; c = 0; t = 0",
    "    for (i = 2; i <= NF; i++) {",
    '      split($i, kv, "=")',
    '      if (kv[1] == "cache") { c = 1; out = out ",cache=" cache; continue }',
    '      if (kv[1] == "iothread") { t = 1; if (io == 1) out = out ",iothread=1"; continue }',
    '      out = out "," $i',
    "    }",
    '    if (!c) out = out ",cache=" cache',
    '    if (!t && io == 1) out = out ",iothread=1"',
    "    print out",
    "  }'",
    "}",
    "owed() {",
    '  cur=$(cfg --current); d=$(value "$cur" "$DISK")',
    '  [ "$(cache_of "$d")" = "$CACHE" ] || printf \' cache %s->%s\' "$(cache_of "$d")" "$CACHE"',
    '  [ "$(io_of "$d")" = "$IOTHREAD" ] || printf \' iothread %s->%s\' "$(io_of "$d")" "$IOTHREAD"',
    ...(needsSingle
      ? [
          '  h=$(value "$cur" scsihw); [ "${h:-lsi}" = virtio-scsi-single ] || printf \' scsihw %s->virtio-scsi-single\' "${h:-lsi}"',
        ]
      : []),
    "  return 0",
    "}",
    "others() {",
    '  qm pending "$VMID" | awk -v d="$DISK" \'$1 == "new" || $1 == "del" { k = $2; sub(":$", "", k); if (k == d || k == "scsihw") next; if ($1 == "del") k = "delete:" k; printf " %s", k }\'',
    "}",
    "earlier() {",
    '  [ -f "$MARK" ] || return 0',
    '  at=; pid=; read -r at pid < "$MARK" || true',
    '  if [ "${pid:-}" = "$(qemu_pid)" ] || [ "$(vm_state)" = stopped ]; then echo "$(date -u -d "@$at" +%FT%TZ 2>/dev/null || echo "$at")"; else rm -f "$MARK"; fi',
    "}",
  ];
}

const TIMED_OUT_STOPPED =
  "VM $VMID is stopped: an earlier qm reboot (at $before) timed out after the guest got the shutdown request, and the guest powered off later; Proxmox does not start it again (the reboot request was cleared). Start it with qm start $VMID, then re-run";

/**
 * Proxmox host: sets the disk's cache/iothread (and the controller, when opted in) by rebuilding
 * the drive string from the pending view so every other option and pending edit survives; then,
 * when the VM's config lacks them, `qm reboot` (never a force-stop), which returns with the VM
 * stopped: qmeventd starts it again (`qm cleanup`), so the step waits for `running` and checks
 * that the running QEMU's command line has the options. Refuses a locked VM, a VM in any state
 * but running or stopped, `aio=native` without a direct cache (QEMU would not start), and other
 * pending changes unless the node opted in. Ends with `current:` and `pending:` lines. When the
 * caller's VM resource owns the options (`optionsOwner: "vm-resource"`) it runs no `qm set`: it
 * refuses a pending config without them and restarts only when the running VM lacks them.
 */
export function renderDiskScript(t: DiskTarget): string {
  const io = t.iothread ? 1 : 0;
  const T = t.rebootTimeoutSeconds;
  const byResource = t.optionsOwner === "vm-resource";
  const aioFix = byResource
    ? "set aio to io_uring or threads on $DISK in the VM resource"
    : "qm set $VMID --$DISK with aio=io_uring or aio=threads";
  const revert = byResource
    ? "apply or revert them first (qm pending $VMID; in the VM resource, or wherever they come from)"
    : "apply or revert them first (qm pending $VMID; qm set $VMID --revert KEY)";
  return [
    prelude(t.who),
    `# k3s-homelab roll step: disk; desired state ${t.fingerprint}`,
    `VMID=${t.vmid}; DISK=${t.disk}; CACHE=${t.cache}; IOTHREAD=${io}; APPLY_PENDING=${t.applyPendingChanges ? 1 : 0}`,
    ...diskHelpers(t),
    "current=$(cfg --current)",
    'lock=$(value "$current" lock)',
    '[ -z "$lock" ] || fail "VM $VMID is locked ($lock); refusing to change it while a backup, migration or snapshot runs"',
    "state=$(vm_state)",
    'refuse_state "$state"',
    "before=$(earlier)",
    'if [ -n "$before" ]; then',
    `  [ "$state" != stopped ] || fail "${TIMED_OUT_STOPPED}"`,
    '  warn "an earlier qm reboot of VM $VMID (at $before) timed out: the guest got the shutdown request and may still power off; trying qm reboot again"',
    "fi",
    "pending=$(cfg)",
    'drive=$(value "$pending" "$DISK")',
    '[ -n "$drive" ] || fail "VM $VMID has no disk $DISK"',
    'aio=$(opt "$drive" aio)',
    'if [ "$aio" = native ] && ! direct "$CACHE"; then',
    `  fail "$DISK has aio=native and QEMU refuses aio=native without a direct cache (cache=$CACHE is not): VM $VMID would not start again after qm reboot. Change aio on $DISK first (${aioFix}), or set disk.cache to none or directsync"`,
    "fi",
    'stype=$(storage_type "$(storage_of "$drive")")',
    'if [ "$aio" = io_uring ] && ! direct "$CACHE" && { [ "$stype" = lvm ] || { [ "$stype" = rbd ] && [ "$(storage_opt "$(storage_of "$drive")" krbd)" = 1 ]; }; }; then',
    '  warn "$DISK has aio=io_uring with cache=$CACHE on $stype storage: io_uring with a non-direct cache can hang there (qemu-server never picks it by default); consider aio=threads"',
    "fi",
    "OWED=$(owed)",
    'if [ -n "$OWED" ] && [ "$state" = running ]; then',
    "  other=$(others)",
    '  if [ -n "$other" ] && [ "$APPLY_PENDING" != 1 ]; then',
    `    fail "VM $VMID has other pending changes a qm reboot would apply too:$other; ${revert}, or set applyPendingChanges: true on this node"`,
    "  fi",
    '  [ -z "$other" ] || say "qm reboot also applies the pending:$other (applyPendingChanges)"',
    "fi",
    ...(byResource ? pendingFromResource(t) : setByRoll(t)),
    "OWED=$(owed)",
    'if [ -n "$OWED" ]; then',
    '  if [ "$state" = running ]; then',
    '    say "qm reboot $VMID to apply:$OWED"',
    `    if ! qm reboot "$VMID" --timeout ${T}; then`,
    `      mkdir -p ${REBOOT_TIMEOUT_DIR}; echo "$(date +%s) $(qemu_pid)" > "$MARK"`,
    `      fail "qm reboot $VMID did not complete in ${T}s. The VM still runs, but its guest got the shutdown request: if it finishes shutting down later, it stays off (Proxmox cleared the reboot request). NOT force-stopping it. Find out why the guest does not shut down (qemu-guest-agent, acpid), then re-run; if it has powered off, qm start $VMID"`,
    "    fi",
    '    rm -f "$MARK"',
    "    waited=0",
    "    while :; do",
    "      st=$(vm_state)",
    '      [ "$st" != running ] || break',
    '      case "$st" in stopped|prelaunch) ;; *) refuse_state "$st" ;; esac',
    `      if [ "$waited" -ge ${T} ]; then`,
    `        fail "VM $VMID did not start again within ${T}s after qm reboot (it is $st). qm reboot stops the VM and qmeventd starts it again (qm cleanup): read the start task log (/var/log/pve/tasks/, pvenode task list --vmid $VMID), journalctl -u qmeventd, and for an HA resource ha-manager status (without cluster quorum nothing starts it); NOT force-stopping or starting anything: qm start $VMID once the cause is fixed, then re-run"`,
    "      fi",
    '      [ $((waited % 10)) -ne 0 ] || say "waiting for VM $VMID to run again after qm reboot (qmeventd starts it): $st, ${waited}s"',
    "      sleep 2; waited=$((waited + 2))",
    "    done",
    '    left=$(owed); [ -z "$left" ] || fail "after qm reboot the config of VM $VMID still lacks:$left"',
    "    if running=$(qemu_disk); then",
    `      [ "$running" = "cache=$CACHE iothread=$IOTHREAD" ] || fail "VM $VMID runs again, but its QEMU has $running for $DISK, not cache=$CACHE iothread=$IOTHREAD (${QEMU_PID_DIR}/$VMID.pid, /proc/PID/cmdline); qm config --current is only the config file"`,
    '      say "VM $VMID runs QEMU with $running on $DISK"',
    "    else",
    `      warn "cannot read the running QEMU's command line (${QEMU_PID_DIR}/$VMID.pid); relying on qm config --current"`,
    "    fi",
    '    say "VM restarted with the new disk options"; echo "record rebooted$OWED"',
    "  else",
    '    say "VM is $state: the options apply when it next starts"',
    "  fi",
    "else",
    '  say "disk options already applied"',
    "fi",
    'echo "current: $(value "$(cfg --current)" "$DISK")"',
    'echo "pending: $(value "$(cfg)" "$DISK")"',
    "",
  ].join("\n");
}

/** The roll sets the options: the controller (when opted in) and the drive string, rebuilt from
 * the pending view so every other option survives. */
function setByRoll(t: DiskTarget): string[] {
  const needsSingle = t.iothread && t.disk.startsWith("scsi");
  return [
    ...(needsSingle
      ? [
          'hw=$(value "$pending" scsihw); hw=${hw:-lsi}',
          'if [ "$hw" != virtio-scsi-single ]; then',
          t.controllerChange
            ? '  qm set "$VMID" --scsihw virtio-scsi-single >/dev/null || fail "qm set --scsihw failed"; say "scsihw $hw -> virtio-scsi-single (applies at the restart)"'
            : '  fail "iothread=1 on $DISK needs the virtio-scsi-single controller but the VM has $hw; set controllerChange: true on this node once its initramfs has virtio_scsi"',
          "fi",
        ]
      : []),
    'if [ "$(cache_of "$drive")" != "$CACHE" ] || [ "$(io_of "$drive")" != "$IOTHREAD" ]; then',
    '  new=$(rebuild "$drive")',
    '  qm set "$VMID" "--$DISK" "$new" >/dev/null || fail "qm set $VMID --$DISK $new failed"',
    '  say "$DISK: $drive -> $new (applies at the restart)"',
    "fi",
  ];
}

/** The caller's VM resource sets the options (through etcdDiskTransform): the step sets nothing
 * and only checks that the pending config has them, so the restart below applies them. */
function pendingFromResource(t: DiskTarget): string[] {
  const needsSingle = t.iothread && t.disk.startsWith("scsi");
  const ask =
    "its VM resource owns the disk options: register etcdDiskTransform(spec) before the VM resources, then re-run";
  return [
    ...(needsSingle
      ? [
          'hw=$(value "$pending" scsihw); hw=${hw:-lsi}',
          `[ "$hw" = virtio-scsi-single ] || fail "iothread=1 on $DISK needs the virtio-scsi-single controller but the VM's config has $hw, pending included; ${ask}"`,
        ]
      : []),
    'if [ "$(cache_of "$drive")" != "$CACHE" ] || [ "$(io_of "$drive")" != "$IOTHREAD" ]; then',
    `  fail "$DISK is $drive, pending included, not cache=$CACHE iothread=$IOTHREAD; ${ask}"`,
    "fi",
  ];
}

/**
 * Proxmox host, read-only, before a drain: prints `restart-follows qm reboot: ...` when the disk
 * step will restart the running VM to apply options it lacks, and nothing else on stdout. Refuses
 * (as the disk step would) a VM in a state other than running or stopped, and names a VM that an
 * earlier timed-out `qm reboot` left without a restart.
 */
export function renderDiskCheckScript(t: DiskTarget): string {
  return [
    prelude(t.who),
    `# k3s-homelab roll step: disk check; desired state ${t.fingerprint}`,
    `VMID=${t.vmid}; DISK=${t.disk}; CACHE=${t.cache}; IOTHREAD=${t.iothread ? 1 : 0}`,
    ...diskHelpers(t),
    "state=$(vm_state)",
    'refuse_state "$state"',
    "before=$(earlier)",
    'if [ -n "$before" ]; then',
    `  [ "$state" != stopped ] || fail "${TIMED_OUT_STOPPED}"`,
    '  warn "an earlier qm reboot of VM $VMID (at $before) timed out: the guest got the shutdown request and may still power off"',
    "fi",
    "OWED=$(owed)",
    'if [ -n "$OWED" ] && [ "$state" = running ]; then echo "restart-follows qm reboot:$OWED"; fi',
    "",
  ].join("\n");
}
