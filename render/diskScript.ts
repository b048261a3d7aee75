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
  /** Longest wait for `qm reboot`'s clean shutdown. */
  readonly rebootTimeoutSeconds: number;
  /** A hash of the node's desired roll state, so this step re-runs when any part changes. */
  readonly fingerprint: string;
}

/** Shell functions both disk scripts use: read the VM config, a drive's cache and iothread, and
 * `owed`, what the running VM (`qm config --current`) still lacks. */
function diskHelpers(t: DiskTarget): string[] {
  const needsSingle = t.iothread && t.disk.startsWith("scsi");
  return [
    'command -v qm >/dev/null || fail "qm not found: is this a Proxmox host?"',
    'cfg() { qm config "$VMID" "$@" || fail "qm config $VMID $* failed"; }',
    'value() { printf \'%s\\n\' "$1" | sed -n "s/^$2: //p"; }',
    "opt() { printf '%s\\n' \"$1\" | tr ',' '\\n' | sed -n \"s/^$2=//p\" | head -n 1; }",
    'cache_of() { c=$(opt "$1" cache); echo "${c:-none}"; }',
    'io_of() { if [ "$(opt "$1" iothread)" = 1 ]; then echo 1; else echo 0; fi; }',
    "# Sets cache and iothread in a drive string, keeping the volume and every other option.",
    "rebuild() {",
    '  printf \'%s\\n\' "$1" | awk -F, -v cache="$CACHE" -v io="$IOTHREAD" \'{',
    "    out = $1; c = 0; t = 0",
    "    for (i = 2; i <= NF; i++) {",
    '      split($i, kv, "=")',
    '      if (kv[1] == "cache") { c = 1; if (cache != "none") out = out ",cache=" cache; continue }',
    '      if (kv[1] == "iothread") { t = 1; if (io == 1) out = out ",iothread=1"; continue }',
    '      out = out "," $i',
    "    }",
    '    if (!c && cache != "none") out = out ",cache=" cache',
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
  ];
}

/**
 * Proxmox host: sets the disk's cache/iothread (and the controller, when opted in) by rebuilding
 * the drive string from the pending view so every other option and pending edit survives; then,
 * when the running VM does not have them yet, `qm reboot` (never a force-stop) and verifies
 * `qm config --current`. Refuses a locked VM. Ends with `current:` and `pending:` lines.
 */
export function renderDiskScript(t: DiskTarget): string {
  const io = t.iothread ? 1 : 0;
  const needsSingle = t.iothread && t.disk.startsWith("scsi");
  return [
    prelude(t.who),
    `# k3s-homelab roll step: disk; desired state ${t.fingerprint}`,
    `VMID=${t.vmid}; DISK=${t.disk}; CACHE=${t.cache}; IOTHREAD=${io}`,
    ...diskHelpers(t),
    "current=$(cfg --current)",
    'lock=$(value "$current" lock)',
    '[ -z "$lock" ] || fail "VM $VMID is locked ($lock); refusing to change it while a backup, migration or snapshot runs"',
    "pending=$(cfg)",
    'drive=$(value "$pending" "$DISK")',
    '[ -n "$drive" ] || fail "VM $VMID has no disk $DISK"',
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
    "OWED=$(owed)",
    'if [ -n "$OWED" ]; then',
    "  state=$(qm status \"$VMID\" | awk '{ print $2 }')",
    '  if [ "$state" = running ]; then',
    '    say "qm reboot $VMID to apply:$OWED"',
    `    qm reboot "$VMID" --timeout ${t.rebootTimeoutSeconds} || fail "qm reboot $VMID did not complete in ${t.rebootTimeoutSeconds}s; NOT force-stopping it. Check the guest's shutdown, then re-run"`,
    '    [ "$(qm status "$VMID" | awk \'{ print $2 }\')" = running ] || fail "VM $VMID is not running after qm reboot"',
    '    left=$(owed); [ -z "$left" ] || fail "after qm reboot the VM still runs with:$left"',
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

/**
 * Proxmox host, read-only, before a drain: prints `restart-follows qm reboot: ...` when the disk
 * step will restart the running VM to apply options it lacks, and nothing else on stdout.
 */
export function renderDiskCheckScript(t: DiskTarget): string {
  return [
    prelude(t.who),
    `# k3s-homelab roll step: disk check; desired state ${t.fingerprint}`,
    `VMID=${t.vmid}; DISK=${t.disk}; CACHE=${t.cache}; IOTHREAD=${t.iothread ? 1 : 0}`,
    ...diskHelpers(t),
    "OWED=$(owed)",
    "state=$(qm status \"$VMID\" | awk '{ print $2 }')",
    'if [ -n "$OWED" ] && [ "$state" = running ]; then echo "restart-follows qm reboot:$OWED"; fi',
    "",
  ].join("\n");
}
