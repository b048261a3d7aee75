import * as assert from "assert";
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { HomelabCluster as HomelabClusterType, OwnedVm } from "../../components";
import { buildClusterSpec, ClusterSpec } from "../../config";
import { etcdDiskTransform, VM_LEGACY_TYPE } from "../../proxmoxve";
import { validRaw } from "./fixtures";

interface Registration {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}
interface Transformed {
  readonly name: string;
  readonly props: Record<string, unknown>;
  readonly opts: pulumi.CustomResourceOptions;
}

const registrations: Registration[] = [];

/** Rejects when the Output does: `apply` never calls back on a failed Output. */
function settled<T>(output: pulumi.Output<T>): Promise<T> {
  return (output as unknown as { promise(): Promise<T> }).promise();
}

/** Pulumi's mocks; a VmLegacy's state carries the provider's default `rebootAfterUpdate: true`
 * (vmLegacy.d.ts: "defaults to `true`") when its inputs leave it out, as the provider plans it. */
async function mocks(preview = false) {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registrations.push({ type: args.type, name: args.name, inputs: args.inputs });
        const defaults = args.type === VM_LEGACY_TYPE ? { rebootAfterUpdate: true } : {};
        return {
          id: `${args.name}-id`,
          state: { ...defaults, ...args.inputs, stdout: "", stderr: "" },
        };
      },
      call: (args) => {
        throw new Error(`unexpected call ${args.token}`);
      },
    },
    "k3s-homelab",
    "test",
    preview,
  );
  registrations.length = 0;
}

function spec(): ClusterSpec {
  const raw = validRaw();
  raw.nodes["k3s-vm-pve"].controllerChange = true;
  return buildClusterSpec(raw).spec;
}

/** A node's VM as a homelab defines it, with the transform when `transformed`. */
function vmOf(s: ClusterSpec, nodeName: string, transformed: boolean): proxmoxve.VmLegacy {
  const node = s.nodes.find((n) => n.name === nodeName)!;
  return new proxmoxve.VmLegacy(
    `${nodeName}-vm`,
    {
      nodeName: node.host,
      vmId: node.vmid,
      scsiHardware: node.host === "pve" ? undefined : "virtio-scsi-single",
      disks: [{ interface: "scsi0", datastoreId: "local-zfs", size: 32 }],
      memory: { dedicated: 8192 },
    },
    transformed ? { transformations: [etcdDiskTransform(s)] } : {},
  );
}

async function cluster(s: ClusterSpec, vms: Record<string, OwnedVm>) {
  const { HomelabCluster } = await import("../../components");
  const transformed: Transformed[] = [];
  const built: HomelabClusterType = new HomelabCluster(
    "homelab",
    { spec: s, secrets: { sshPrivateKey: pulumi.secret("KEY"), token: pulumi.secret("t") }, vms },
    {
      transformations: [
        (a) => {
          transformed.push({ name: a.name, props: a.props, opts: a.opts });
          return undefined;
        },
      ],
    },
  );
  return { built, transformed };
}

describe("own VMs under mocks", () => {
  it("the transform is what both Pulumi transform APIs take", () => {
    const forEngine: pulumi.ResourceTransform = etcdDiskTransform(spec());
    const forOption: pulumi.ResourceTransformation = etcdDiskTransform(spec());
    assert.strictEqual(typeof forEngine, typeof forOption);
  });

  it("a K3s node's VmLegacy is registered with the etcd disk options and no provider reboot", async () => {
    await mocks();
    const s = spec();
    const vm = vmOf(s, "k3s-vm-pve", true);
    const other = new proxmoxve.VmLegacy(
      "nas",
      { nodeName: "pve", vmId: 200, disks: [{ interface: "scsi0", size: 500 }] },
      { transformations: [etcdDiskTransform(s)] },
    );
    await settled(pulumi.all([vm.id, other.id]));
    const inputs = (name: string) => registrations.find((r) => r.name === name)!.inputs;
    assert.deepStrictEqual(inputs("k3s-vm-pve-vm"), {
      nodeName: "pve",
      vmId: 105,
      scsiHardware: "virtio-scsi-single",
      disks: [
        {
          interface: "scsi0",
          datastoreId: "local-zfs",
          size: 32,
          cache: "writeback",
          iothread: true,
        },
      ],
      memory: { dedicated: 8192 },
      reboot: false,
      rebootAfterUpdate: false,
    });
    // Not a K3s node (VMID 200): untouched, so no reboot setting and no disk option appear.
    assert.deepStrictEqual(inputs("nas"), {
      nodeName: "pve",
      vmId: 200,
      disks: [{ interface: "scsi0", size: 500 }],
    });
  });

  it("refuses a K3s node's VM that cannot take the options, naming the resource and node", async () => {
    await mocks();
    const s = buildClusterSpec(validRaw()).spec;
    assert.throws(() => vmOf(s, "k3s-vm-pve", true), {
      message:
        "VM resource `k3s-vm-pve-vm`: node `k3s-vm-pve` (VM 105 on pve): iothread=1 on scsi0 needs `scsiHardware: virtio-scsi-single` (the VM has virtio-scsi-pci, the provider's default); set controllerChange: true on this node once its initramfs has virtio_scsi",
    });
  });

  it("each own VM's roll waits for its VM resource, and its disk step runs no qm set", async () => {
    await mocks();
    const s = spec();
    const vms = {
      "k3s-vm-pve": vmOf(s, "k3s-vm-pve", true),
      "k3s-vm-fawn": vmOf(s, "k3s-vm-fawn", true),
    };
    const { built, transformed } = await cluster(s, vms);
    await settled(pulumi.all(Object.values(built.nodes).map((n) => n.gate.id)));
    const optsOf = (name: string) => transformed.find((t) => t.name === name)!.opts;
    const vmsIn = (deps: unknown) =>
      ([] as unknown[]).concat(deps ?? []).filter((d) => proxmoxve.VmLegacy.isInstance(d));
    assert.deepStrictEqual(vmsIn(optsOf("k3s-vm-pve-check").dependsOn), [vms["k3s-vm-pve"]]);
    assert.deepStrictEqual(vmsIn(optsOf("k3s-vm-fawn-check").dependsOn), [vms["k3s-vm-fawn"]]);
    assert.deepStrictEqual(vmsIn(optsOf("k3s-vm-piglet-check").dependsOn), []);
    const create = (name: string) =>
      String(registrations.find((r) => r.name === name)!.inputs.create);
    assert.doesNotMatch(create("k3s-vm-pve-disk"), /qm set/);
    assert.doesNotMatch(create("k3s-vm-fawn-disk"), /qm set/);
    assert.match(create("k3s-vm-piglet-disk"), /qm set "\$VMID" "--\$DISK" "\$new"/);
  });

  it("refuses at preview a VM resource that would still reboot on update, before its roll registers", async () => {
    await mocks(true);
    const s = spec();
    const { transformed } = await cluster(s, { "k3s-vm-fawn": vmOf(s, "k3s-vm-fawn", false) });
    const check = transformed.find((t) => t.name === "k3s-vm-fawn-check")!;
    await assert.rejects(settled(check.props.create as pulumi.Output<string>), {
      // The runtime names the step's input it could not send; the program stops with this.
      message:
        'error serializing property "create": ' +
        "node `k3s-vm-fawn`: its VM resource has `rebootAfterUpdate` true, so the provider would restart it on update outside the gated roll; register etcdDiskTransform(spec) before the VM resources, or set `rebootAfterUpdate: false`",
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(!registrations.some((r) => r.name === "k3s-vm-fawn-check"));
    assert.ok(registrations.some((r) => r.name === "k3s-vm-pve-check"));
  });

  it("refuses a VM given for a node the cluster does not have", async () => {
    await mocks();
    const s = spec();
    const vm = vmOf(s, "k3s-vm-fawn", true);
    await assert.rejects(cluster(s, { "k3s-vm-fawm": vm }), {
      message: "`vms.k3s-vm-fawm`: no node `k3s-vm-fawm` in the cluster spec",
    });
  });
});
