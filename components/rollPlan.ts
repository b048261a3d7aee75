import { agentBatchSize, ClusterSpec, NodeSpec, RollConfig } from "../config";

/** One node's place in the roll. */
export interface RollEntry {
  readonly node: NodeSpec;
  /** The server whose API (and, for itself, etcd member) the gate asks. */
  readonly gateVia: NodeSpec;
  /** For a server, the other servers: each one's etcd member must sync its WAL fast enough before
   * this one's roll. None for an agent, whose restart takes no etcd member out. */
  readonly fsyncVia: readonly NodeSpec[];
  /** The other nodes of its batch, which roll beside it and may be down meanwhile: none for a
   * server, the other agents of its batch for an agent (`cluster.roll.agentBatch`). */
  readonly batchMates: readonly NodeSpec[];
}

type PlanInput = Pick<ClusterSpec, "nodes"> & {
  readonly roll?: Pick<RollConfig, "agentBatch">;
};

/**
 * The roll in batches, in order: each server alone, then the agents in batches of
 * `roll.agentBatch` (default 1), each group in the order listed in the stack file. A batch's
 * nodes roll together; the next batch starts once every one of them passed its gate. Agents are
 * gated through the first server. Before a server's roll, every other server's etcd member is
 * read for slow WAL syncs.
 */
export function rollBatches(spec: PlanInput): RollEntry[][] {
  const servers = spec.nodes.filter((n) => n.role === "server");
  const agents = spec.nodes.filter((n) => n.role === "agent");
  if (servers.length === 0) throw new Error("rollPlan: the cluster has no server");
  const size = agentBatchSize(spec.roll?.agentBatch ?? 1, agents.length);
  const agentBatches: NodeSpec[][] = [];
  for (let i = 0; i < agents.length; i += size) agentBatches.push(agents.slice(i, i + size));
  return [
    ...servers.map((node) => [
      { node, gateVia: node, fsyncVia: servers.filter((s) => s !== node), batchMates: [] },
    ]),
    ...agentBatches.map((batch) =>
      batch.map((node) => ({
        node,
        gateVia: servers[0],
        fsyncVia: [],
        batchMates: batch.filter((n) => n !== node),
      })),
    ),
  ];
}

/** Every node's place in the roll, in order (the batches one after another). */
export function rollPlan(spec: PlanInput): RollEntry[] {
  return rollBatches(spec).flat();
}
