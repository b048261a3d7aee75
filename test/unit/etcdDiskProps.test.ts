import * as assert from "assert";
import { ownedVmRefusal } from "../../components";
import { buildClusterSpec } from "../../config";
import { etcdDiskProps, k3sNodeOfVm, VmLegacyProps } from "../../proxmoxve";
import { validRaw } from "./fixtures";

function specWith(change: (raw: ReturnType<typeof validRaw>) => void = () => {}) {
  const raw = validRaw();
  change(raw);
  return buildClusterSpec(raw).spec;
}

const FAWN_VM: VmLegacyProps = {
  nodeName: "fawn",
  vmId: 108,
  name: "k3s-vm-fawn",
  scsiHardware: "virtio-scsi-single",
  disks: [
    { interface: "scsi0", datastoreId: "local-zfs", size: 32, discard: "on" },
    { interface: "scsi1", datastoreId: "local-zfs", size: 8, cache: "none" },
  ],
};

describe("etcdDiskProps", () => {
  it("names the K3s node by Proxmox node name and VMID, nothing else", () => {
    const spec = specWith();
    assert.strictEqual(k3sNodeOfVm(spec, FAWN_VM)?.name, "k3s-vm-fawn");
    assert.strictEqual(k3sNodeOfVm(spec, { ...FAWN_VM, nodeName: "pve" }), undefined);
    assert.strictEqual(k3sNodeOfVm(spec, { ...FAWN_VM, vmId: 109 }), undefined);
    assert.strictEqual(k3sNodeOfVm(spec, { ...FAWN_VM, vmId: "108" }), undefined);
  });

  it("sets cache and iothread on the etcd disk only and turns off every provider reboot", () => {
    const spec = specWith();
    const fawn = spec.nodes.find((n) => n.name === "k3s-vm-fawn")!;
    assert.deepStrictEqual(etcdDiskProps(fawn, spec.disk, FAWN_VM), {
      props: {
        nodeName: "fawn",
        vmId: 108,
        name: "k3s-vm-fawn",
        scsiHardware: "virtio-scsi-single",
        disks: [
          {
            interface: "scsi0",
            datastoreId: "local-zfs",
            size: 32,
            discard: "on",
            cache: "writeback",
            iothread: true,
          },
          { interface: "scsi1", datastoreId: "local-zfs", size: 8, cache: "none" },
        ],
        reboot: false,
        rebootAfterUpdate: false,
      },
    });
  });

  it("switches the controller only with controllerChange, and leaves it absent off SCSI", () => {
    const spec = specWith((raw) => {
      raw.nodes["k3s-vm-fawn"].controllerChange = true;
      raw.nodes["k3s-vm-pve"].disk = "virtio0";
    });
    const fawn = spec.nodes.find((n) => n.name === "k3s-vm-fawn")!;
    const lsi = { nodeName: "fawn", vmId: 108, disks: [{ interface: "scsi0" }], reboot: true };
    assert.deepStrictEqual(etcdDiskProps(fawn, spec.disk, lsi), {
      props: {
        nodeName: "fawn",
        vmId: 108,
        disks: [{ interface: "scsi0", cache: "writeback", iothread: true }],
        scsiHardware: "virtio-scsi-single",
        reboot: false,
        rebootAfterUpdate: false,
      },
    });
    const pve = spec.nodes.find((n) => n.name === "k3s-vm-pve")!;
    const virtio = { nodeName: "pve", vmId: 105, disks: [{ interface: "virtio0" }] };
    const result = etcdDiskProps(pve, spec.disk, virtio);
    assert.deepStrictEqual(result, {
      props: {
        nodeName: "pve",
        vmId: 105,
        disks: [{ interface: "virtio0", cache: "writeback", iothread: true }],
        reboot: false,
        rebootAfterUpdate: false,
      },
    });
    assert.ok(!("scsiHardware" in result.props!));
  });

  it("refuses a controller switch the node did not opt in to", () => {
    const spec = specWith();
    const fawn = spec.nodes.find((n) => n.name === "k3s-vm-fawn")!;
    const lsi = { nodeName: "fawn", vmId: 108, disks: [{ interface: "scsi0" }] };
    assert.deepStrictEqual(etcdDiskProps(fawn, spec.disk, lsi), {
      problem:
        "node `k3s-vm-fawn` (VM 108 on fawn): iothread=1 on scsi0 needs `scsiHardware: virtio-scsi-single` (the VM has virtio-scsi-pci, the provider's default); set controllerChange: true on this node once its initramfs has virtio_scsi",
    });
  });

  it("refuses a VM without the etcd disk, with disks not yet known, or with aio=native", () => {
    const spec = specWith();
    const fawn = spec.nodes.find((n) => n.name === "k3s-vm-fawn")!;
    assert.deepStrictEqual(
      etcdDiskProps(fawn, spec.disk, { ...FAWN_VM, disks: [{ interface: "virtio0" }] }),
      {
        problem:
          "node `k3s-vm-fawn` (VM 108 on fawn): `disks` has no entry with `interface: scsi0`",
      },
    );
    assert.deepStrictEqual(etcdDiskProps(fawn, spec.disk, { ...FAWN_VM, disks: undefined }), {
      problem:
        "node `k3s-vm-fawn` (VM 108 on fawn): `disks` must list the etcd disk `scsi0` as a plain array",
    });
    assert.deepStrictEqual(
      etcdDiskProps(fawn, spec.disk, {
        ...FAWN_VM,
        disks: [{ interface: "scsi0", aio: "native" }],
      }),
      {
        problem:
          "node `k3s-vm-fawn` (VM 108 on fawn): `disks[0].aio` is native and QEMU refuses aio=native without a direct cache (cache=writeback is not): set `aio` to io_uring or threads",
      },
    );
  });
});

describe("ownedVmRefusal", () => {
  it("refuses a VM resource the provider would reboot on update, unset included", () => {
    const node = { name: "k3s-vm-fawn" };
    assert.strictEqual(ownedVmRefusal(node, false), undefined);
    assert.strictEqual(
      ownedVmRefusal(node, undefined),
      "node `k3s-vm-fawn`: its VM resource has `rebootAfterUpdate` unset (the provider's default, true), so the provider would restart it on update outside the gated roll; register etcdDiskTransform(spec) before the VM resources, or set `rebootAfterUpdate: false`",
    );
    assert.strictEqual(
      ownedVmRefusal(node, true),
      "node `k3s-vm-fawn`: its VM resource has `rebootAfterUpdate` true, so the provider would restart it on update outside the gated roll; register etcdDiskTransform(spec) before the VM resources, or set `rebootAfterUpdate: false`",
    );
  });
});
