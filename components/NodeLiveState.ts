import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec, NodeSpec } from "../config";
import { nodeConfigYaml } from "./K3sNode";
import { LiveTarget, LiveValues, readLive, sha } from "./liveRead";
import { renderSysctlFile } from "./render";

/** What readLive reports for a node that is in the desired state. */
export function desiredLiveValues(
  spec: ClusterSpec,
  node: NodeSpec,
  hasAgentToken: boolean,
): LiveValues {
  return {
    k3sVersion: node.k3sVersion,
    sysctl: { ...node.sysctl },
    sysctlFileSha: sha(renderSysctlFile(`${node.name}-sysctl-apply`, node.sysctl)),
    configSha: sha(nodeConfigYaml(spec, node, hasAgentToken)),
    disk: `cache=${spec.disk.cache} iothread=${spec.disk.iothread ? 1 : 0}`,
  };
}

interface LiveStateProps {
  readonly node: string;
  /** What the node should run; after a refresh, what it does run. */
  readonly values: LiveValues;
  readonly target: LiveTarget;
  /** Bumped whenever drift was repaired; the node's steps carry it, so they run again. */
  readonly repairs: number;
}

/**
 * The dynamic provider: `read` (only under `--refresh`) replaces the desired values with what the
 * node runs, so a hand-made change shows as a diff on this node's resource; the update that
 * follows bumps `repairs`. It changes nothing on any machine itself.
 */
const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: LiveStateProps) {
    return { id: inputs.node, outs: { ...inputs, repairs: 0 } };
  },
  async read(id: string, props?: LiveStateProps) {
    if (!props) throw new Error(`${id}: no state to refresh`);
    const values = await readLive(props.target);
    const refreshed = { ...props, values };
    return { id, props: refreshed, inputs: { node: props.node, values, target: props.target } };
  },
  async diff(_id: string, olds: LiveStateProps, news: LiveStateProps) {
    const drifted = JSON.stringify(olds.values) !== JSON.stringify(news.values);
    const moved = JSON.stringify(olds.target) !== JSON.stringify(news.target);
    return { changes: drifted || moved, replaces: [], deleteBeforeReplace: false };
  },
  async update(_id: string, olds: LiveStateProps, news: LiveStateProps) {
    const drifted = JSON.stringify(olds.values) !== JSON.stringify(news.values);
    return { outs: { ...news, repairs: (olds.repairs ?? 0) + (drifted ? 1 : 0) } };
  },
};

export interface NodeLiveStateArgs {
  /** The node's name, also the resource id. */
  readonly node: string;
  /** The desired values, computed like readLive computes the live ones. */
  readonly values: LiveValues;
  /** Where to read, with the SSH key as a secret. */
  readonly target: pulumi.Input<LiveTarget>;
}

/** A node's live values, read back under `pulumi preview/up --refresh` (drift detection). */
export class NodeLiveState extends pulumi.dynamic.Resource {
  declare public readonly repairs: pulumi.Output<number>;

  constructor(name: string, args: NodeLiveStateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { node: args.node, values: args.values, target: args.target, repairs: undefined },
      { ...opts, additionalSecretOutputs: ["target"] },
    );
  }
}
