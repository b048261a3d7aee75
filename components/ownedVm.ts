import * as pulumi from "@pulumi/pulumi";
import { NodeSpec } from "../config";

/** A K3s node's VM as the caller's own resource, e.g. a `proxmoxve.VmLegacy`: it owns the disk
 * options, the node's roll owns only the restart. */
export type OwnedVm = pulumi.CustomResource & {
  /** The provider reboots the VM on an update that needs it unless this is false. */
  readonly rebootAfterUpdate: pulumi.Output<boolean | undefined>;
};

/** Why a node cannot roll with this VM resource, or undefined: a VM the provider would reboot on
 * update restarts outside the gated roll, every changed VM at once. Unset is the provider's
 * default, true. */
export function ownedVmRefusal(
  node: Pick<NodeSpec, "name">,
  rebootAfterUpdate: boolean | undefined,
): string | undefined {
  if (rebootAfterUpdate === false) return undefined;
  return `node \`${node.name}\`: its VM resource has \`rebootAfterUpdate\` ${rebootAfterUpdate === undefined ? "unset (the provider's default, true)" : "true"}, so the provider would restart it on update outside the gated roll; register etcdDiskTransform(spec) before the VM resources, or set \`rebootAfterUpdate: false\``;
}

/** Node names in `vms` that are no node of the cluster. */
export function unknownVmNodes(
  nodes: readonly Pick<NodeSpec, "name">[],
  vms: Readonly<Record<string, unknown>>,
): string[] {
  return Object.keys(vms)
    .filter((name) => !nodes.some((n) => n.name === name))
    .map((name) => `\`vms.${name}\`: no node \`${name}\` in the cluster spec`);
}
