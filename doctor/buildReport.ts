import { ClusterSpec, NodeSpec } from "../config";
import { Observed } from "../plan/observed";
import { runningVersion } from "../plan/preflight";
import { EtcdMember, HostObservation, reachable, Unreachable } from "../probe/observations";
import { Check, check, formatMs, Section } from "./check";
import { membersCheck, mustMatchAcrossServers, skewCheck } from "./clusterChecks";
import { etcdChecks } from "./etcdChecks";
import { k3sChecks, mustMatchCheck, sysctlChecks } from "./nodeChecks";
import { DoctorNodeReading, FioReading } from "./readings";
import { Report } from "./report";
import { DoctorState } from "./state";
import { fioVerdict, THRESHOLDS } from "./thresholds";
import { hostChecks, vmChecks } from "./vmChecks";

/** Everything read live, plus what the report compares it with. */
export interface DoctorInput {
  readonly stack: string;
  readonly at: string;
  readonly spec: ClusterSpec;
  /** The config.yaml the program writes for a node (components/K3sNode.ts nodeConfigYaml). */
  readonly desiredConfigYaml: (node: NodeSpec) => string;
  readonly nodes: ReadonlyMap<string, DoctorNodeReading | Unreachable>;
  readonly hosts: ReadonlyMap<string, HostObservation | Unreachable>;
  /** The last run's state, for growth since then. */
  readonly previous?: DoctorState;
  /** `--fio` results per server node. */
  readonly fio?: ReadonlyMap<string, FioReading>;
  readonly notes?: readonly string[];
}

/** The shape plan/preflight reads, from the doctor's readings. */
export function toObserved(input: Pick<DoctorInput, "nodes" | "hosts">): Observed {
  const nodes = new Map(
    [...input.nodes].map(([name, r]) => [name, reachable(r) ? r.observation : r] as const),
  );
  return { nodes, hosts: input.hosts };
}

export function clusterMembers(input: Pick<DoctorInput, "nodes">): EtcdMember[] | undefined {
  for (const r of input.nodes.values()) {
    if (reachable(r) && r.observation.etcdMembers) return [...r.observation.etcdMembers];
  }
  return undefined;
}

function fioCheck(reading: FioReading): Check {
  const desired = `p99 ≤ ${THRESHOLDS.fioP99WarnMs} ms (fail > ${THRESHOLDS.fioP99FailMs} ms)`;
  if (reading.kind === "not-run")
    return check("fio fdatasync p99", reading.reason, desired, reading.verdictHint);
  const r = reading.result;
  const mib = (r.writtenBytes / 1024 ** 2).toFixed(1);
  const value =
    `${formatMs(r.syncP99Ms)} (p50 ${formatMs(r.syncP50Ms)}, max ${formatMs(r.syncMaxMs)}, ` +
    `${r.syncs} syncs, ${mib} MiB in ${(r.runtimeMs / 1000).toFixed(1)} s on ${reading.fileSystem || "?"})`;
  const measured = check("fio fdatasync p99", value, desired, fioVerdict(r.syncP99Ms), {
    p50Ms: r.syncP50Ms,
    p99Ms: r.syncP99Ms,
    maxMs: r.syncMaxMs,
    syncs: r.syncs,
    writtenBytes: r.writtenBytes,
    fio: r.fioVersion,
  });
  return reading.removed
    ? measured
    : { ...measured, value: `${measured.value}; TEST FILE NOT REMOVED`, verdict: "fail" };
}

function nodeSection(input: DoctorInput, node: NodeSpec, observed: Observed): Section {
  const about = `${node.role}, VM ${node.vmid} on ${node.host}`;
  const checks: Check[] = [];
  const reading = input.nodes.get(node.name);
  if (!reachable(reading)) {
    checks.push(
      check("ssh", `unreachable: ${reading?.unreachable ?? "not read"}`, "reachable", "fail"),
    );
  } else {
    const o = reading.observation;
    checks.push(...k3sChecks(node, o, observed));
    if (node.role === "server") {
      checks.push(mustMatchCheck(o.configYaml, input.desiredConfigYaml(node)));
      checks.push(
        ...etcdChecks({
          observation: o,
          metrics: reading.metrics,
          journal: reading.journal,
          before: input.previous?.members[node.name],
          members: clusterMembers(input),
        }),
      );
    }
    checks.push(...sysctlChecks(node.sysctl, o.sysctl, reading.overrides));
  }
  const fio = input.fio?.get(node.name);
  if (fio) checks.push(fioCheck(fio));
  const host = input.hosts.get(node.host);
  if (reachable(host)) checks.push(...vmChecks(input.spec, node, host));
  else
    checks.push(
      check(
        "vm",
        `host ${node.host} unreachable: ${host?.unreachable ?? "not read"}`,
        "readable",
        "fail",
      ),
    );
  return { kind: "node", name: node.name, about, checks };
}

/** Turns the readings into the report: pure, so every verdict can be tested without machines. */
export function buildReport(input: DoctorInput): Report {
  const observed = toObserved(input);
  const { spec } = input;
  const running = new Map(spec.nodes.map((n) => [n.name, runningVersion(n, observed)] as const));
  const liveServerConfigs = new Map<string, string>();
  for (const n of spec.nodes.filter((x) => x.role === "server")) {
    const r = input.nodes.get(n.name);
    if (reachable(r)) liveServerConfigs.set(n.name, r.observation.configYaml);
  }
  const cluster: Section = {
    kind: "cluster",
    name: "cluster",
    about: `${spec.nodes.length} nodes, desired K3s ${spec.k3sVersion}`,
    checks: [
      skewCheck(spec, running),
      membersCheck(spec, clusterMembers(input)),
      mustMatchAcrossServers(liveServerConfigs),
    ],
  };
  const hosts: Section[] = spec.hosts.map((h) => {
    const o = input.hosts.get(h.name);
    return {
      kind: "host",
      name: h.name,
      about: "Proxmox",
      checks: reachable(o)
        ? hostChecks(spec, o)
        : [check("ssh", `unreachable: ${o?.unreachable ?? "not read"}`, "reachable", "fail")],
    };
  });
  return {
    stack: input.stack,
    at: input.at,
    sections: [cluster, ...spec.nodes.map((n) => nodeSection(input, n, observed)), ...hosts],
    notes: input.notes ?? [],
  };
}
