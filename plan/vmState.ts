/**
 * What to do about a VM's run state, as `qm status --verbose` reports it (`qmpstatus`, QEMU's
 * `query-status`; `stopped` when no QEMU runs). Only running and stopped let the roll go on;
 * `qm reboot` itself refuses a paused VM ("VM is paused - cannot shutdown", API2/Qemu.pm).
 */
export function vmStateHint(vmid: number, status: string): string | undefined {
  switch (status) {
    case "running":
    case "stopped":
      return undefined;
    case "paused":
      return `is paused: resume it with \`qm resume ${vmid}\` (not \`qm start\`)`;
    case "suspended":
      return `is suspended by its guest: wake it with \`qm resume ${vmid}\``;
    case "prelaunch":
      return `is in prelaunch (QEMU waits to run the guest: a start with --freeze, or an incoming migration): \`qm resume ${vmid}\` runs it`;
    case "io-error":
      return `is paused on a disk I/O error: free or repair its storage (a full pool or thin pool is the usual cause), then \`qm resume ${vmid}\``;
    case "internal-error":
    case "guest-panicked":
      return `is halted (${status}): read the host journal and the task logs under /var/log/pve/tasks/, then stop and start it by hand (\`qm stop ${vmid}\`, \`qm start ${vmid}\`)`;
    default:
      return `is ${status}, neither running nor stopped (a migration, backup or snapshot in progress?): wait until it runs`;
  }
}
