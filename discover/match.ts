import type { DiscoveredHost, DiscoveredNode, DiscoveredVm } from "./facts";

/** A K3s node tied to exactly one VM, and the disk that holds its data dir. */
export interface MatchedNode {
  readonly node: DiscoveredNode;
  readonly host: DiscoveredHost;
  readonly vm: DiscoveredVm;
  readonly disk: string;
  /** How it was tied: the guest agent's addresses or a MAC address of the VM's `netN`. */
  readonly by: "guest agent" | "MAC address";
}

export interface Matching {
  readonly matched: MatchedNode[];
  /** What could not be tied, one line each, naming the node and why: left out of the file. */
  readonly leftOut: string[];
}

/** The MAC of a `netN` value, lower case: qemu-server writes `virtio=BC:24:11:00:00:01,bridge=vmbr0`
 * (`src/PVE/QemuServer/Network.pm` `$net_fmt`: each model name is a `keyAlias` of `model` and an
 * `alias` of `macaddr`, so `virtio=MAC` and `macaddr=MAC` both give the MAC; `parse_net`). */
export function netMac(value: string): string | undefined {
  for (const part of value.split(",")) {
    const m = /^([a-z0-9]+)=([0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5})$/.exec(part);
    if (m) return m[2].toLowerCase();
  }
  return undefined;
}

const DRIVE_KEY = /^(scsi|virtio|sata|ide)\d+$/;

/** The VM's disks (not CD-ROM drives): keys such as `scsi0`, sorted. */
export function vmDisks(config: Readonly<Record<string, string>>): string[] {
  return Object.keys(config)
    .filter((k) => DRIVE_KEY.test(k) && !/(^|,)media=cdrom(,|$)/.test(config[k]))
    .sort();
}

function vmsOf(hosts: readonly DiscoveredHost[]) {
  return hosts.flatMap((host) => host.vms.map((vm) => ({ host, vm })));
}

function candidates(node: DiscoveredNode, hosts: readonly DiscoveredHost[]) {
  const all = vmsOf(hosts);
  const byAgent = all.filter(({ vm }) => vm.agentAddresses?.includes(node.internalIp));
  if (byAgent.length > 0) return { by: "guest agent" as const, found: byAgent };
  const macs = new Set(node.guest?.macs ?? []);
  const byMac = all.filter(({ vm }) =>
    Object.entries(vm.config).some(([k, v]) => /^net\d+$/.test(k) && macs.has(netMac(v) ?? "")),
  );
  return { by: "MAC address" as const, found: byMac };
}

/** The data dir's disk: the one the guest tied it to (`dataDiskOf`), or the VM's only disk. */
function dataDisk(node: DiscoveredNode, vm: DiscoveredVm): string | { problem: string } {
  const disks = vmDisks(vm.config);
  const named = node.guest?.dataDisk;
  if (named !== undefined) {
    return disks.includes(named)
      ? named
      : { problem: `its data dir is on \`${named}\`, which VM ${vm.vmid} does not have` };
  }
  if (disks.length === 1) return disks[0];
  return {
    problem: `VM ${vm.vmid} has ${disks.length} disks (${disks.join(", ") || "none"}) and the guest's data dir is on none it can name (a SCSI disk's /dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-scsiN)`,
  };
}

/** Ties every node to its VM by the guest agent's addresses, else by MAC; a node that matches no
 * VM or more than one is left out, never guessed. */
export function matchNodes(
  nodes: readonly DiscoveredNode[],
  hosts: readonly DiscoveredHost[],
): Matching {
  const matched: MatchedNode[] = [];
  const leftOut: string[] = [];
  for (const node of nodes) {
    if (!node.guest) {
      const why = node.unreachable ? `: ${node.unreachable}` : "";
      leftOut.push(`node \`${node.name}\` (${node.internalIp}): no SSH to its guest${why}`);
      continue;
    }
    const { by, found } = candidates(node, hosts);
    if (found.length !== 1) {
      const which = found.map(({ host, vm }) => `VM ${vm.vmid} on \`${host.name}\``).join(", ");
      leftOut.push(
        found.length === 0
          ? `node \`${node.name}\` (${node.internalIp}): no VM on the hosts given has its address (guest agent) or one of its MAC addresses`
          : `node \`${node.name}\` (${node.internalIp}): more than one VM matches by ${by} (${which})`,
      );
      continue;
    }
    const { host, vm } = found[0];
    const disk = dataDisk(node, vm);
    if (typeof disk !== "string") {
      leftOut.push(`node \`${node.name}\` (VM ${vm.vmid} on \`${host.name}\`): ${disk.problem}`);
      continue;
    }
    matched.push({ node, host, vm, disk, by });
  }
  return { matched, leftOut };
}
