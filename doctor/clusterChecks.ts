import { ClusterSpec, minorDistance, MUST_MATCH_SERVER_KEYS, parseK3sVersion } from "../config";
import { EtcdMember } from "../probe/observations";
import { Check, check } from "./check";
import { memberOfNode } from "./etcdChecks";
import { parseConfigYaml, showConfigValue } from "./nodeChecks";

/**
 * Versions running across the cluster: servers more than one minor apart fail (K3s allows one
 * during an upgrade), any difference warns.
 */
export function skewCheck(
  spec: Pick<ClusterSpec, "nodes">,
  running: ReadonlyMap<string, string | undefined>,
): Check {
  const byVersion = new Map<string, string[]>();
  for (const node of spec.nodes) {
    const v = running.get(node.name);
    if (v) byVersion.set(v, [...(byVersion.get(v) ?? []), node.name]);
  }
  const desired = "one version; servers ≤ 1 minor apart";
  if (byVersion.size === 0) return check("k3s version skew", "no version known", desired, "warn");
  const value = [...byVersion]
    .map(([v, nodes]) => (byVersion.size === 1 ? v : `${v} (${nodes.join(", ")})`))
    .join("; ");
  const servers = spec.nodes
    .filter((n) => n.role === "server")
    .map((n) => parseK3sVersion(running.get(n.name) ?? ""))
    .filter((v) => v !== undefined);
  let spread = 0;
  for (const a of servers) for (const b of servers) spread = Math.max(spread, minorDistance(a, b));
  const verdict = spread > 1 ? "fail" : byVersion.size > 1 ? "warn" : "ok";
  return check("k3s version skew", value, desired, verdict, {
    versions: byVersion.size,
    serverMinorSpread: Number.isFinite(spread) ? spread : null,
  });
}

/** etcd's member list against the stack's servers: strangers and learners (not voting yet, K3s
 * is promoting them) warn, missing servers fail. */
export function membersCheck(
  spec: Pick<ClusterSpec, "nodes">,
  members: readonly EtcdMember[] | undefined,
): Check {
  const servers = spec.nodes.filter((n) => n.role === "server");
  const desired = `the stack's ${servers.length} servers`;
  if (!members) return check("etcd members", "no server answered the member list", desired, "fail");
  const strangers = members.filter(
    (m) => !m.isLearner && !servers.some((s) => memberOfNode(m.name, s.nodeName)),
  );
  const missing = servers.filter((s) => !members.some((m) => memberOfNode(m.name, s.nodeName)));
  const learners = members.filter((m) => m.isLearner);
  const parts = [
    `${members.length} members${learners.length > 0 ? ` (${learners.length} learners)` : ""}: ${members.map((m) => m.name || m.id).join(", ")}`,
  ];
  if (strangers.length > 0)
    parts.push(
      `not in the stack (still voting): ${strangers.map((m) => `${m.name} (${m.id})`).join(", ")}`,
    );
  if (learners.length > 0)
    parts.push(
      `learner, not voting until K3s promotes it: ${learners.map((m) => m.name || m.id).join(", ")}`,
    );
  if (missing.length > 0) parts.push(`missing: ${missing.map((s) => s.name).join(", ")}`);
  return check(
    "etcd members",
    parts.join("; "),
    desired,
    missing.length > 0 ? "fail" : strangers.length + learners.length > 0 ? "warn" : "ok",
    { members: members.length, strangers: strangers.length, missing: missing.length },
  );
}

/**
 * Must-match keys compared between the servers themselves: K3s refuses to start, or (for
 * `disable`) deletes components cluster-wide, when they differ. That was the post's outage.
 */
export function mustMatchAcrossServers(liveConfigs: ReadonlyMap<string, string>): Check {
  const parsed = [...liveConfigs].map(([node, text]) => [node, parseConfigYaml(text)] as const);
  const desired = "identical on every server";
  if (parsed.length < 2)
    return check(
      "must-match keys across servers",
      `${parsed.length} server(s) read`,
      desired,
      "ok",
    );
  const differing: string[] = [];
  for (const key of MUST_MATCH_SERVER_KEYS) {
    const values = new Map<string, string[]>();
    for (const [node, config] of parsed) {
      const v = JSON.stringify(config[key]) ?? "unset";
      values.set(v, [...(values.get(v) ?? []), node]);
    }
    if (values.size > 1) {
      const shown = [...values].map(([, nodes]) => {
        const config = parsed.find(([n]) => n === nodes[0])![1];
        return `${showConfigValue(key, config[key])} on ${nodes.join(", ")}`;
      });
      differing.push(`${key}: ${shown.join(" vs ")}`);
    }
  }
  return differing.length === 0
    ? check("must-match keys across servers", "identical", desired, "ok")
    : check("must-match keys across servers", differing.join("; "), desired, "fail");
}
