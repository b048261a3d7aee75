import { DiskTarget } from "../../render";
/** A valid raw stack config (the three structured keys), fresh for every call so a test can
 * break one field without touching the others. */
export function validRaw(): {
  cluster: Record<string, unknown>;
  hosts: Record<string, Record<string, unknown>>;
  nodes: Record<string, Record<string, unknown>>;
} {
  const key = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${"A".repeat(42)}${n}`;
  return {
    cluster: {
      k3sVersion: "v1.33.6+k3s1",
      registrationAddress: "https://10.0.0.21:6443",
      serverConfig: { disable: ["traefik"] },
      rollOrder: ["k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn"],
    },
    hosts: {
      pve: { address: "10.0.0.11", hostKey: key(1) },
      piglet: { address: "10.0.0.12", hostKey: key(2) },
      fawn: { address: "10.0.0.13", hostKey: key(3) },
    },
    nodes: {
      "k3s-vm-pve": {
        host: "pve",
        vmid: 105,
        disk: "scsi0",
        address: "10.0.0.21",
        role: "server",
        hostKey: key(4),
      },
      "k3s-vm-piglet": {
        host: "piglet",
        vmid: 106,
        disk: "scsi0",
        address: "10.0.0.22",
        role: "server",
        hostKey: key(5),
      },
      "k3s-vm-fawn": {
        host: "fawn",
        vmid: 108,
        disk: "scsi0",
        address: "10.0.0.23",
        role: "server",
        hostKey: key(6),
      },
    },
  };
}

/** k3s-vm-fawn's etcd disk as the disk steps see it. */
export const FAWN_DISK: DiskTarget = {
  who: "k3s-vm-fawn (VM 108 on fawn)",
  vmid: 108,
  disk: "scsi0",
  cache: "writeback",
  iothread: true,
  controllerChange: false,
  applyPendingChanges: false,
  rebootTimeoutSeconds: 600,
  fingerprint: "0123456789abcdef",
};
