// What `npm run discover` reads from a running cluster, read-only, before it writes a stack file.
// Everything here was read from a machine; nothing is a default or a guess.
import type { StorageMap } from "../plan/disk";

/** A Proxmox host: reached over SSH with the key ssh-keyscan printed (and the owner compared). */
export interface DiscoveredHost {
  /** The stack's name for it (`--host NAME=ADDRESS`). */
  readonly name: string;
  readonly address: string;
  /** The host key line the first connection succeeded with. */
  readonly hostKey: string;
  readonly vms: readonly DiscoveredVm[];
  /** `/sys/module/zfs/parameters/zfs_txg_timeout`, undefined without the zfs module. */
  readonly txgTimeout?: number;
  /** `/etc/pve/storage.cfg`: a drive without `cache=` on BTRFS runs with QEMU's writeback. */
  readonly storage?: StorageMap;
}

export interface DiscoveredVm {
  readonly vmid: number;
  /** `qm config <vmid> --current`: what the running VM has. */
  readonly config: Readonly<Record<string, string>>;
  /** The guest agent's addresses (`qm guest cmd <vmid> network-get-interfaces`), where it runs. */
  readonly agentAddresses?: readonly string[];
}

/** A K3s node as the API lists it, and what its guest told us over SSH (where it could). */
export interface DiscoveredNode {
  /** The Kubernetes node name. */
  readonly name: string;
  readonly role: "server" | "agent";
  readonly internalIp: string;
  /** `status.nodeInfo.kubeletVersion`, e.g. `v1.33.6+k3s1`. */
  readonly kubeletVersion: string;
  /** What the guest said over SSH; undefined when it could not be reached. */
  readonly guest?: DiscoveredGuest;
  /** Why the guest could not be read, when it could not. */
  readonly unreachable?: string;
}

export interface DiscoveredGuest {
  /** The address it was reached on. */
  readonly address: string;
  readonly hostKey: string;
  /** MAC addresses of its interfaces (`/sys/class/net/<if>/address`), lower case. */
  readonly macs: readonly string[];
  /** The keys K3s runs with: config.yaml, config.yaml.d and the install-time flags and env, as
   * flag names (`disable`, `node-ip`). */
  readonly k3sConfig: Readonly<Record<string, string | boolean | readonly string[]>>;
  /** The Proxmox disk (`scsi0`) that holds the data dir, where the guest's block device could be
   * tied to one; undefined otherwise. */
  readonly dataDisk?: string;
  /** `/etc/sysctl.d/99-etcd.conf` as key → value; undefined when the file is not there. */
  readonly sysctl?: Readonly<Record<string, string>>;
}
