/*
 * What this library knows of @muhlba91/pulumi-proxmoxve 8.6.0 (bpg's provider), by type token
 * and property name only: nothing here imports the package, so a program that does not manage
 * its VMs with it never loads it (and never needs its plugin).
 */

/** The classic VM resource, `proxmoxve.VmLegacy` in 8.6.0 (the old `proxmoxve.vm.VirtualMachine`;
 * 8.6.0 has no `vm` module). `proxmoxve.Vm` is the experimental framework resource: no disks. */
export const VM_LEGACY_TYPE = "proxmoxve:index/vmLegacy:VmLegacy";

/** One entry of `VmLegacyArgs.disks`, the keys this library reads or writes. */
export interface VmLegacyDiskProps {
  readonly interface?: unknown;
  readonly cache?: unknown;
  readonly iothread?: unknown;
  readonly aio?: unknown;
  readonly [key: string]: unknown;
}

/** The `VmLegacyArgs` keys this library reads or writes, as a transform sees them. */
export interface VmLegacyProps {
  readonly nodeName?: unknown;
  readonly vmId?: unknown;
  readonly disks?: unknown;
  readonly scsiHardware?: unknown;
  /** Reboot the VM after creation (provider default false). */
  readonly reboot?: unknown;
  /** Reboot or power off the VM on update when a change needs it (provider default true). */
  readonly rebootAfterUpdate?: unknown;
  readonly [key: string]: unknown;
}
