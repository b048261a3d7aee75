import { ClusterSpec } from "../config";
import { apiNodeList, etcdMemberList, Observed } from "./observed";
import { reachable } from "../probe/observations";
import type { Preflight, RollOverrides } from "./preflight";

/** A node the repair restarts first, and what preflight found wrong with it. */
export interface RepairEntry {
  readonly node: string;
  readonly reason: string;
}

/** One thing wrong with the cluster; `node` is set when restarting that node's K3s can fix it. */
interface HealthProblem {
  readonly text: string;
  readonly node?: string;
}

/** K3s names etcd members `<node name>-<random hex>`. */
export function memberOf(memberName: string, nodeName: string): boolean {
  return (
    memberName === nodeName ||
    new RegExp(`^${nodeName.replace(/[.]/g, "\\.")}-[0-9a-f]+$`).test(memberName)
  );
}

function findProblems(spec: ClusterSpec, observed: Observed): HealthProblem[] {
  const problems: HealthProblem[] = [];
  const servers = spec.nodes.filter((n) => n.role === "server");
  const views = servers.map((s) => observed.nodes.get(s.name)).filter(reachable);
  const members = etcdMemberList(observed);
  if (!members) problems.push({ text: "no server answers etcd's member list" });
  for (const server of servers) {
    const o = observed.nodes.get(server.name);
    if (!reachable(o)) continue;
    if (o.etcdHealthy !== true)
      problems.push({
        text: `node \`${server.name}\`: its etcd member is not healthy${o.etcdUnhealthyReason ? `: ${o.etcdUnhealthyReason}` : ""}`,
        node: server.name,
      });
    if (members && !members.some((m) => memberOf(m.name, server.nodeName))) {
      problems.push({ text: `node \`${server.name}\`: not in etcd's member list` });
    }
  }
  for (const m of members ?? []) {
    if (m.isLearner) {
      problems.push({
        text: `etcd member \`${m.name || m.id}\` is a learner, not a voter: K3s is still promoting it (the etcd leader tries every 15 s); wait until it votes, then run up again`,
      });
      continue;
    }
    if (!servers.some((s) => memberOf(m.name, s.nodeName))) {
      problems.push({
        text: `etcd member \`${m.name}\` (${m.id}) is no server of this stack: it still votes; remove it if it is gone`,
      });
    }
  }
  if (views.length > 0 && !views.some((v) => v.etcdLeader && v.etcdLeader !== "0"))
    problems.push({ text: "etcd has no leader" });
  const api = apiNodeList(observed);
  if (!api) problems.push({ text: "no server's API answers" });
  for (const node of spec.nodes) {
    const seen = api?.find((n) => n.name === node.nodeName);
    if (api && !seen)
      problems.push({
        text: `node \`${node.name}\`: the API does not know \`${node.nodeName}\``,
        node: node.name,
      });
    else if (seen && seen.ready !== "True")
      problems.push({
        text: `node \`${node.name}\`: NotReady (Ready=${seen.ready})`,
        node: node.name,
      });
  }
  return problems;
}

/** Healthy and total voting members, when some server answered the member list. */
function quorum(spec: ClusterSpec, observed: Observed) {
  const members = etcdMemberList(observed);
  if (!members) return undefined;
  const voters = members.filter((m) => !m.isLearner);
  const healthyNode = (name: string) => {
    const o = observed.nodes.get(name);
    return reachable(o) && o.etcdHealthy === true;
  };
  const healthy = voters.filter((m) =>
    spec.nodes.some((n) => memberOf(m.name, n.nodeName) && healthyNode(n.name)),
  ).length;
  return { healthy, voters: voters.length };
}

/**
 * Refuses to start on an unhealthy cluster, naming each problem. With `cluster.roll.repair`, the
 * problems a K3s restart of one node can fix become repair entries (that node restarts first,
 * alone, gated); what a restart cannot fix (a stale member, lost quorum) is still refused.
 */
export function checkHealth(
  spec: ClusterSpec,
  observed: Observed,
  overrides: RollOverrides,
  result: Preflight,
): void {
  const problems = findProblems(spec, observed);
  const fixable = (p: HealthProblem) => p.node !== undefined || p.text === "etcd has no leader";
  if (!overrides.repair) {
    for (const p of problems) result.errors.push(`cluster unhealthy, refusing to start: ${p.text}`);
    const nodes = [...new Set(problems.flatMap((p) => (p.node ? [p.node] : [])))];
    if (nodes.length > 0 && problems.every(fixable))
      result.errors.push(
        `to restart only the unhealthy (${nodes.join(", ")}), one at a time and gated, before the roll: set \`cluster.roll.repair: true\``,
      );
    return;
  }
  if (problems.length === 0) {
    result.warnings.push("`cluster.roll.repair` is set but the cluster is healthy: remove it");
    return;
  }
  for (const p of problems) {
    if (fixable(p)) result.warnings.push(`repair: ${p.text}`);
    else result.errors.push(`cluster unhealthy, a restart cannot repair it: ${p.text}`);
  }
  const q = quorum(spec, observed);
  if (q && q.healthy * 2 <= q.voters) {
    result.errors.push(
      `only ${q.healthy} of ${q.voters} etcd members are healthy: quorum is lost, and restarting members one at a time cannot bring it back; start K3s on the stopped servers together (systemctl start --no-block k3s on each), then run up again`,
    );
  }
  for (const node of spec.nodes) {
    const reasons = problems.filter((p) => p.node === node.name).map((p) => p.text);
    if (reasons.length > 0)
      result.repairs.push({
        node: node.name,
        reason: reasons.map((r) => r.replace(/^node `[^`]+`: /, "")).join("; "),
      });
  }
}

/** Nodes already cordoned: by an earlier roll whose gate did not pass (its gate uncordons it once
 * it passes), or by someone else (the roll leaves it cordoned). */
export function cordonWarnings(spec: ClusterSpec, observed: Observed): string[] {
  const api = apiNodeList(observed);
  return spec.nodes.flatMap((node) => {
    const seen = api?.find((n) => n.name === node.nodeName);
    if (seen?.cordoned === "by-roll")
      return [
        `node \`${node.name}\`: still cordoned by an earlier roll whose gate did not pass; its gate uncordons it once it passes`,
      ];
    if (seen?.cordoned === "by-hand")
      return [`node \`${node.name}\`: cordoned, not by this tool; the roll leaves it cordoned`];
    return [];
  });
}
