import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec, NodeSpec } from "../config";
import { nodeConfigYaml } from "./K3sNode";
import { LiveTarget, LiveValues, readLive, sha } from "./liveRead";
import { renderSysctlFile } from "../render";

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
  /** What the node should run (the desired values of the last up). */
  readonly values: LiveValues;
  readonly target: LiveTarget;
  /** What the node ran at the last refresh when that differed from `values` (state only, until
   * the next update). */
  readonly live?: LiveValues;
  /** Bumped whenever drift was repaired; the node's steps carry it, so they run again. */
  readonly repairs: number;
}

/** Equal as JSON with keys in order, so a new key order alone is no change. */
function same(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : typeof v === "object" && v !== null
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
              .map(([k, x]) => [k, canonical(x)]),
          )
        : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** A refresh saw the node run something else than both what the last up converged it to and what
 * is desired now. A change of the desired values alone is no drift: the steps whose inputs
 * changed run anyway, and only those, so a sysctl-only change previews as just that. */
export function drifted(olds: LiveStateProps, news: Pick<LiveStateProps, "values">): boolean {
  return olds.live !== undefined && !same(olds.live, olds.values) && !same(olds.live, news.values);
}

/**
 * The dynamic provider: `read` (only under `--refresh`) records what the node runs, and hands it
 * back as the inputs, so a hand-made change shows as a diff on this node's resource; the update
 * that follows bumps `repairs`. It changes nothing on any machine itself.
 */
const liveStateProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: LiveStateProps) {
    return { id: inputs.node, outs: { ...inputs, repairs: 0 } };
  },
  async read(id: string, props?: LiveStateProps) {
    if (!props) throw new Error(`${id}: no state to refresh`);
    const live = await readLive(props.target);
    // A node that runs what the state says changes nothing, so a refresh shows nothing for it.
    const { node, values, target, repairs } = props;
    const kept = { node, values, target, repairs };
    const refreshed = same(live, values) ? kept : { ...kept, live };
    return {
      id,
      props: refreshed,
      inputs: { node: props.node, values: live, target: props.target },
    };
  },
  async diff(_id: string, olds: LiveStateProps, news: LiveStateProps) {
    // A new version of this provider's code is stored too, so later reads run it.
    const code = (p: LiveStateProps) => (p as unknown as Record<string, unknown>).__provider;
    const changes =
      drifted(olds, news) || !same(olds.target, news.target) || code(olds) !== code(news);
    return { changes, replaces: [], deleteBeforeReplace: false };
  },
  async update(_id: string, olds: LiveStateProps, news: LiveStateProps) {
    const repairs = (olds.repairs ?? 0) + (drifted(olds, news) ? 1 : 0);
    return { outs: { ...news, repairs } };
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
      liveStateProvider,
      name,
      { node: args.node, values: args.values, target: args.target, repairs: undefined },
      { ...opts, additionalSecretOutputs: ["target"] },
    );
  }
}
