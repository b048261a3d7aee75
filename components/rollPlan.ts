import { ClusterSpec, NodeSpec } from "../config";

/** One node's place in the roll. */
export interface RollEntry {
  readonly node: NodeSpec;
  /** The server whose API (and, for itself, etcd member) the gate asks. */
  readonly gateVia: NodeSpec;
  /** For a server, the other servers: each one's etcd member must sync its WAL fast enough before
   * this one's roll. None for an agent, whose restart takes no etcd member out. */
  readonly fsyncVia: readonly NodeSpec[];
}

/**
 * The order in which nodes get their disruptive step: servers first, one at a time, then agents,
 * each group in the order listed in the stack file. Agents are gated through the first server.
 * Before a server's roll, every other server's etcd member is read for slow WAL syncs.
 */
export function rollPlan(spec: Pick<ClusterSpec, "nodes">): RollEntry[] {
  const servers = spec.nodes.filter((n) => n.role === "server");
  const agents = spec.nodes.filter((n) => n.role === "agent");
  if (servers.length === 0) throw new Error("rollPlan: the cluster has no server");
  return [
    ...servers.map((node) => ({
      node,
      gateVia: node,
      fsyncVia: servers.filter((s) => s !== node),
    })),
    ...agents.map((node) => ({ node, gateVia: servers[0], fsyncVia: [] })),
  ];
}
