import { agentBatchSize, ClusterSpec } from "../config";
import { rollBatches } from "../components/rollPlan";

/** The agents' batches as preview prints them (`cluster.roll.agentBatch`); undefined when agents
 * roll one at a time (the default, or a single agent). */
export function agentBatchLine(spec: Pick<ClusterSpec, "nodes" | "roll">): string | undefined {
  const agents = spec.nodes.filter((n) => n.role === "agent").length;
  const size = agentBatchSize(spec.roll.agentBatch, agents);
  if (size < 2) return undefined;
  const share =
    typeof spec.roll.agentBatch === "string" ? ` (${spec.roll.agentBatch} of ${agents})` : "";
  const batches = rollBatches(spec)
    .filter((batch) => batch[0].node.role === "agent")
    .map((batch) => `[${batch.map((e) => e.node.name).join(", ")}]`);
  return `agents in batches of ${size}${share}: ${batches.join(", then ")} (cluster.roll.agentBatch: a batch's nodes roll together; the next batch starts once each of them passed its gate)`;
}
