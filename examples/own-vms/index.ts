// A Pulumi program that defines its K3s VMs with @muhlba91/pulumi-proxmoxve and uses k3s-homelab
// as a library: the VM resources own the disk options (set by etcdDiskTransform), the cluster's
// roll owns only the restart, one node at a time.
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { buildClusterSpec, etcdDiskTransform, HomelabCluster, OwnedVm } from "k3s-homelab";

const hostKey = (host: string) => new pulumi.Config().require(`hostKey-${host}`);

// The same shape as the stack file's three keys; here written in the program.
const { spec, warnings } = buildClusterSpec({
  cluster: {
    k3sVersion: "v1.33.6+k3s1",
    registrationAddress: "https://10.0.0.21:6443",
    serverConfig: { disable: ["traefik"] },
    rollOrder: ["k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn"],
    disk: { cache: "writeback", iothread: true },
  },
  hosts: {
    pve: { address: "10.0.0.11", hostKey: hostKey("pve") },
    piglet: { address: "10.0.0.12", hostKey: hostKey("piglet") },
    fawn: { address: "10.0.0.13", hostKey: hostKey("fawn") },
  },
  nodes: {
    "k3s-vm-pve": {
      host: "pve",
      vmid: 105,
      disk: "scsi0",
      address: "10.0.0.21",
      role: "server",
      hostKey: hostKey("k3s-vm-pve"),
    },
    "k3s-vm-piglet": {
      host: "piglet",
      vmid: 106,
      disk: "scsi0",
      address: "10.0.0.22",
      role: "server",
      hostKey: hostKey("k3s-vm-piglet"),
    },
    "k3s-vm-fawn": {
      host: "fawn",
      vmid: 108,
      disk: "scsi0",
      address: "10.0.0.23",
      role: "server",
      hostKey: hostKey("k3s-vm-fawn"),
    },
  },
});
for (const warning of warnings) pulumi.log.warn(warning);

// Before any VM: every VmLegacy that is a node of the spec (same nodeName and vmId) gets the etcd
// disk options and `rebootAfterUpdate: false`, so no VM restarts outside the gated roll.
pulumi.runtime.registerResourceTransform(etcdDiskTransform(spec));

const vms: Record<string, OwnedVm> = {};
for (const node of spec.nodes) {
  vms[node.name] = new proxmoxve.VmLegacy(node.name, {
    nodeName: node.host, // the Proxmox node: the host's key in `hosts`
    vmId: node.vmid,
    name: node.name,
    cpu: { cores: 4 },
    memory: { dedicated: 8192 },
    scsiHardware: "virtio-scsi-single",
    disks: [{ interface: "scsi0", datastoreId: "local-zfs", size: 64, discard: "on" }],
    networkDevices: [{ bridge: "vmbr0" }],
  });
}

const config = new pulumi.Config();
const cluster = new HomelabCluster("homelab", {
  spec,
  secrets: {
    sshPrivateKey: config.requireSecret("sshPrivateKey"),
    token: config.requireSecret("token"),
  },
  vms,
});

export const nodes = cluster.report;
