import { ClusterSpec, NodeSpec } from "../config";

/** One node's place in the roll. */
export interface RollEntry {
  readonly node: NodeSpec;
  /** The server whose API (and, for itself, etcd member) the gate asks. */
  readonly gateVia: NodeSpec;
}

/**
 * The order in which nodes get their disruptive step: servers first, one at a time, then agents,
 * each group in the order listed in the stack file. Agents are gated through the first server.
 */
export function rollPlan(spec: Pick<ClusterSpec, "nodes">): RollEntry[] {
  const servers = spec.nodes.filter((n) => n.role === "server");
  const agents = spec.nodes.filter((n) => n.role === "agent");
  if (servers.length === 0) throw new Error("rollPlan: the cluster has no server");
  return [
    ...servers.map((node) => ({ node, gateVia: node })),
    ...agents.map((node) => ({ node, gateVia: servers[0] })),
  ];
}
