import { ClusterSpec, NodeSpec } from "../config";
import { VmLegacyDiskProps, VmLegacyProps } from "./vmLegacy";

/** Cache modes QEMU opens with O_DIRECT; `aio=native` needs one of them. */
const DIRECT_CACHES = ["none", "directsync"];

/** The K3s node whose VM these props describe: same Proxmox node (`nodeName`, the host's key in
 * the stack's `hosts`) and `vmId`. Props not known yet (Outputs) match nothing. */
export function k3sNodeOfVm(
  spec: Pick<ClusterSpec, "nodes">,
  props: VmLegacyProps,
): NodeSpec | undefined {
  return spec.nodes.find((n) => n.host === props.nodeName && n.vmid === props.vmId);
}

export type EtcdDiskProps =
  | { readonly props: VmLegacyProps; readonly problem?: undefined }
  | { readonly problem: string; readonly props?: undefined };

/**
 * The VM's props with the etcd disk options of the cluster spec on the node's disk (`cache`,
 * `iothread`, and `scsiHardware: virtio-scsi-single` when iothread is on a SCSI disk) and every
 * reboot the provider would do turned off (`rebootAfterUpdate: false`, `reboot: false`): the
 * changes stay pending until the node's gated roll restarts the VM. Every other key is kept.
 * A problem instead when the node's disk is not in `disks` (as a plain list), when the
 * controller would change without the node's `controllerChange`, or when QEMU would refuse to
 * start the disk (`aio=native` without a direct cache).
 */
export function etcdDiskProps(
  node: NodeSpec,
  disk: ClusterSpec["disk"],
  props: VmLegacyProps,
): EtcdDiskProps {
  const who = `node \`${node.name}\` (VM ${node.vmid} on ${node.host})`;
  const disks = props.disks;
  if (!Array.isArray(disks)) {
    return {
      problem: `${who}: \`disks\` must list the etcd disk \`${node.disk}\` as a plain array`,
    };
  }
  const at = disks.findIndex((d: VmLegacyDiskProps) => d?.interface === node.disk);
  if (at === -1) {
    return { problem: `${who}: \`disks\` has no entry with \`interface: ${node.disk}\`` };
  }
  const etcd: VmLegacyDiskProps = disks[at];
  if (etcd.aio === "native" && !DIRECT_CACHES.includes(disk.cache)) {
    return {
      problem: `${who}: \`disks[${at}].aio\` is native and QEMU refuses aio=native without a direct cache (cache=${disk.cache} is not): set \`aio\` to io_uring or threads`,
    };
  }
  const single = disk.iothread && node.disk.startsWith("scsi");
  if (single && props.scsiHardware !== "virtio-scsi-single" && !node.controllerChange) {
    return {
      problem: `${who}: iothread=1 on ${node.disk} needs \`scsiHardware: virtio-scsi-single\` (the VM has ${String(props.scsiHardware ?? "virtio-scsi-pci, the provider's default")}); set controllerChange: true on this node once its initramfs has virtio_scsi`,
    };
  }
  const newDisks = disks.map((d: VmLegacyDiskProps, i: number) =>
    i === at ? { ...d, cache: disk.cache, iothread: disk.iothread } : d,
  );
  return {
    props: {
      ...props,
      disks: newDisks,
      ...(single ? { scsiHardware: "virtio-scsi-single" } : {}),
      reboot: false,
      rebootAfterUpdate: false,
    },
  };
}
