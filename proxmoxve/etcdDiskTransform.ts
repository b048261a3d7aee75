import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec } from "../config";
import { refusalError } from "../errorStack";
import { etcdDiskProps, k3sNodeOfVm } from "./etcdDiskProps";
import { VM_LEGACY_TYPE, VmLegacyProps } from "./vmLegacy";

/** What both Pulumi transform APIs hand over: `registerResourceTransform` (run by the engine)
 * and the `transformations` resource option (run in the program, also under mocks). */
export interface TransformArgs {
  readonly type: string;
  readonly name: string;
  readonly props: pulumi.Inputs;
  readonly opts: pulumi.ResourceOptions;
}

/** A transform both `pulumi.runtime.registerResourceTransform` and `transformations` accept. */
export type EtcdDiskTransform = (
  args: TransformArgs,
) => { props: pulumi.Inputs; opts: pulumi.ResourceOptions } | undefined;

/**
 * For every `VmLegacy` that is a K3s node of the spec (same `nodeName` and `vmId`), sets the
 * etcd disk options and turns off the provider's reboots (see `etcdDiskProps`); leaves every
 * other resource alone. A node's VM that cannot take the options is refused with the problem.
 * Register it before the VMs: `pulumi.runtime.registerResourceTransform(etcdDiskTransform(spec))`.
 */
export function etcdDiskTransform(spec: Pick<ClusterSpec, "nodes" | "disk">): EtcdDiskTransform {
  return ({ type, name, props, opts }) => {
    if (type !== VM_LEGACY_TYPE) return undefined;
    const node = k3sNodeOfVm(spec, props as VmLegacyProps);
    if (!node) return undefined;
    const result = etcdDiskProps(node, spec.disk, props as VmLegacyProps);
    if (result.problem !== undefined) {
      throw refusalError(`VM resource \`${name}\`: ${result.problem}`);
    }
    return { props: result.props, opts };
  };
}
