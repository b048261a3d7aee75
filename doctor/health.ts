import { ClusterSpec, NodeSpec } from "../config";
import { Observed } from "../plan/observed";
import { preflight } from "../plan/preflight";

/** preflight's prefix for each of its cluster health problems. */
const UNHEALTHY = "cluster unhealthy, refusing to start: ";

/**
 * Why fio must not run now, by the same criteria `pulumi up` uses before a roll (plan/preflight:
 * every server's etcd member healthy and listed, a leader, the API answering, every node Ready),
 * plus: every server reachable. Empty when the cluster is healthy.
 */
export function fioRefusals(
  spec: ClusterSpec,
  observed: Observed,
  desiredConfigYaml: (node: NodeSpec) => string,
): string[] {
  const verdict = preflight(spec, observed, desiredConfigYaml, {
    allowTwoServers: true,
    allowAgentMinorSkip: true,
    repair: false,
  });
  const problems = verdict.errors
    .filter((e) => e.startsWith(UNHEALTHY))
    .map((e) => e.slice(UNHEALTHY.length));
  for (const node of spec.nodes) {
    const o = observed.nodes.get(node.name);
    if (node.role === "server" && (o === undefined || "unreachable" in o))
      problems.unshift(`node \`${node.name}\` is unreachable`);
  }
  return problems;
}
