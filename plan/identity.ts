import { yamlMap } from "./yamlMap";
import { ClusterSpec, IDENTITY_KEYS, NodeSpec } from "../config";
import { rollPlan } from "../components/rollPlan";
import { NodeObservation, reachable } from "../probe/observations";
import { parseFlags } from "./installState";
import { Observed } from "./observed";

/**
 * A new cluster (no server has K3s installed, no etcd answers) needs its first server to start
 * etcd (`cluster-init: true`) rather than join `registrationAddress`, which is itself; and a
 * server set to initialise must never do so beside servers that already run, or it starts a
 * second, separate cluster.
 */
export function clusterInitProblems(spec: ClusterSpec, observed: Observed): string[] {
  const servers = spec.nodes.filter((n) => n.role === "server");
  const seen = servers.map((n) => observed.nodes.get(n.name));
  if (!seen.every(reachable)) return [];
  const installed = seen.filter((o) => o.installedVersion !== undefined || o.etcdMembers);
  const initialises = (n: NodeSpec) => n.config["cluster-init"] === true;
  if (installed.length === 0) {
    const first = rollPlan(spec).find((s) => s.node.role === "server")?.node;
    if (!first || initialises(first)) return [];
    return [
      `node \`${first.name}\`: no server runs K3s yet, so this is a new cluster, and its first server would join \`${spec.registrationAddress}\` (itself) instead of starting etcd; set \`cluster-init: true\` in \`nodes.${first.name}.config\`, refusing`,
    ];
  }
  return servers
    .filter((n, i) => initialises(n) && seen[i].installedVersion === undefined)
    .map(
      (n) =>
        `node \`${n.name}\`: \`config.cluster-init: true\` on a server without K3s while other servers run it would start a second, separate cluster instead of joining; remove it, refusing`,
    );
}

/** The identity settings K3s starts this node with: config.yaml, then the config.yaml.d drop-ins
 * in name order, then the unit's ExecStart flags, which win (k3s pkg/configfilearg). */
export function runningIdentity(own: NodeObservation): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...yamlMap(own.configYaml) };
  const dropins = [...(own.configDropins ?? [])].sort((a, b) => a.path.localeCompare(b.path));
  for (const d of dropins) Object.assign(merged, yamlMap(d.text));
  for (const [key, value] of parseFlags(own.execStart ?? [])) merged[key] = value;
  return Object.fromEntries(IDENTITY_KEYS.filter((k) => k in merged).map((k) => [k, merged[k]]));
}

/**
 * A running etcd member whose node-ip, node-name, data-dir or advertise-address would change is
 * refused unless the node opts in (`allowIdentityChange`): its member may not rejoin as the same
 * member, and the cluster then counts a stale member.
 */
export function identityProblems(
  node: NodeSpec,
  running: Record<string, unknown>,
  desiredYaml: string,
  runsEtcd: boolean,
): { errors: string[]; warnings: string[] } {
  if (node.role !== "server" || !runsEtcd) return { errors: [], warnings: [] };
  const before = running;
  const after = yamlMap(desiredYaml);
  const lines = IDENTITY_KEYS.filter(
    (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
  ).map(
    (k) =>
      `node \`${node.name}\`, \`config.${k}\`: ${JSON.stringify(before[k] ?? null)} → ${JSON.stringify(after[k] ?? null)} on a running etcd member: it may not rejoin etcd as the same member`,
  );
  return node.allowIdentityChange
    ? { errors: [], warnings: lines.map((l) => `${l} (allowed by \`allowIdentityChange\`)`) }
    : {
        errors: lines.map(
          (l) => `${l}; set \`nodes.${node.name}.allowIdentityChange: true\` to do it, refusing`,
        ),
        warnings: [],
      };
}
