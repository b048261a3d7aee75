import { yamlMap } from "./yamlMap";
import {
  ClusterSpec,
  CRITICAL_DISABLE_ENTRIES,
  CRITICAL_SERVER_KEYS,
  IMMUTABLE_SERVER_KEYS,
  NodeSpec,
  parseK3sVersion,
  compareK3sVersions,
} from "../config";
import { rollPlan } from "../components/rollPlan";
import { aioProblem, owedDiskChanges } from "./disk";
import { vmStateHint } from "./vmState";
import { checkHealth, cordonWarnings, memberOf, RepairEntry } from "./health";
import { clusterInitProblems, identityProblems, runningIdentity } from "./identity";
import { checkInstallState } from "./installState";
import { K3S_DEFAULTS, settingsThatChange, StackTokens } from "./effectiveConfig";
import { etcdMemberList, Observed } from "./observed";
import { HostObservation, NodeObservation, reachable, VmObservation } from "../probe/observations";
import { sha256 } from "../render/files";
import { FSYNC_WINDOW_SECONDS } from "../render";

export interface RollOverrides {
  /** Roll a 2-server cluster although every server restart loses quorum. */
  readonly allowTwoServers: boolean;
  /** Let agents skip a minor release. */
  readonly allowAgentMinorSkip: boolean;
  /** Restart the unhealthy members first instead of refusing (what a restart can fix). */
  readonly repair: boolean;
}

/** One node's disruptive step, as preview shows it. */
export interface NodePlan {
  readonly node: string;
  /** What restarts: the VM, only K3s, or nothing. */
  readonly restart: "vm" | "k3s" | "none";
  readonly reasons: readonly string[];
}

export interface Preflight {
  readonly errors: string[];
  readonly warnings: string[];
  readonly plan: NodePlan[];
  /** In repair mode: the nodes restarted first, in roll order, and what is wrong with each. */
  readonly repairs: RepairEntry[];
  /** Node → sha256 of the config.yaml K3s started with, where the stack's config.yaml holds the
   * same settings: the roll writes it without a restart (see `sameSettingsAs`). */
  readonly sameSettingsAs: Record<string, string>;
}

/** The version the API reports for the node (what really runs), else what is installed. */
export function runningVersion(node: NodeSpec, observed: Observed): string | undefined {
  for (const o of observed.nodes.values()) {
    if (!reachable(o)) continue;
    const api = o.apiNodes?.find((n) => n.name === node.nodeName);
    if (api) return api.kubeletVersion;
  }
  const own = observed.nodes.get(node.name);
  return reachable(own) ? own.installedVersion : undefined;
}

/** Keys whose values differ between two config.yaml texts. */
export function changedConfigKeys(before: string, after: string): string[] {
  const a = yamlMap(before);
  const b = yamlMap(after);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .sort();
}

/**
 * Decides, from what the probe read, whether the roll may start and what it will restart, in
 * roll order. Pure: the same inputs always give the same verdict, so tests can drive it.
 */
export function preflight(
  spec: ClusterSpec,
  observed: Observed,
  desiredConfigYaml: (node: NodeSpec) => string,
  overrides: RollOverrides,
  tokens?: StackTokens,
): Preflight {
  const result: Preflight = {
    errors: [],
    warnings: [],
    plan: [],
    repairs: [],
    sameSettingsAs: {},
  };
  for (const [name, o] of [...observed.nodes, ...observed.hosts]) {
    if (!reachable(o))
      result.errors.push(
        `\`${name}\`: unreachable: ${o.unreachable}${vmHint(spec, observed, name)}`,
      );
  }
  for (const { node } of rollPlan(spec)) {
    result.plan.push(
      planNode(spec, node, observed, desiredConfigYaml(node), overrides, result, tokens),
    );
    // Install-time flags and env the installer would drop, config.yaml.d drop-ins that win.
    const own = observed.nodes.get(node.name);
    if (reachable(own)) {
      const carried = checkInstallState(node, own, desiredConfigYaml(node));
      result.errors.push(...carried.errors);
      result.warnings.push(...carried.warnings);
    }
  }
  result.errors.push(...clusterInitProblems(spec, observed));
  checkHealth(spec, observed, overrides, result);
  checkQuorum(spec, observed, overrides, result);
  result.warnings.push(...cordonWarnings(spec, observed));
  return result;
}

/** For a guest that cannot be reached: what its Proxmox host says of the VM, when it is not
 * running (the usual reason). */
function vmHint(spec: ClusterSpec, observed: Observed, name: string): string {
  const node = spec.nodes.find((n) => n.name === name);
  const host = node && observed.hosts.get(node.host);
  if (!node || !reachable(host)) return "";
  const vm = host.vms.get(node.vmid);
  if (vm?.restarting) {
    return `; VM ${node.vmid} on \`${node.host}\` is ${vm.status} and restarting: a qm reboot is in flight (qmeventd's \`qm cleanup ${node.vmid}\` starts it again; an interrupted run's, perhaps): wait until it is back, then run again (\`pulumi up\` waits up to gateTimeoutSeconds for it)`;
  }
  if (vm?.status === "stopped" && vm.rebootTimedOutAt) {
    return `; VM ${node.vmid} on \`${node.host}\` is stopped: an earlier qm reboot (at ${vm.rebootTimedOutAt}) timed out after the guest got the shutdown request, and the guest powered off later; Proxmox does not start it again (start it: qm start ${node.vmid})`;
  }
  return vm?.status === "stopped"
    ? `; VM ${node.vmid} on \`${node.host}\` is stopped (start it: qm start ${node.vmid})`
    : "";
}

/** The VM's state, aio and other pending changes, when the roll would `qm reboot` it. */
function checkVm(
  spec: ClusterSpec,
  node: NodeSpec,
  vm: VmObservation,
  storage: HostObservation["storage"],
  restarts: boolean,
  result: Preflight,
): string[] {
  const who = `node \`${node.name}\`: VM ${node.vmid} on \`${node.host}\``;
  const hint = vmStateHint(node.vmid, vm.status);
  if (hint) result.errors.push(`${who} ${hint}, refusing`);
  if (vm.rebootTimedOutAt && vm.status !== "stopped") {
    result.warnings.push(
      `${who}: an earlier qm reboot (at ${vm.rebootTimedOutAt}) timed out; the guest got the shutdown request and may still power off and stay off; the roll tries qm reboot again`,
    );
  }
  if (!restarts) return [];
  const problem = aioProblem(vm.pending[node.disk] ?? "", spec.disk.cache, storage);
  if (problem?.level === "error") result.errors.push(`${who}, \`${node.disk}\` ${problem.text}`);
  if (problem?.level === "warning")
    result.warnings.push(`${who}, \`${node.disk}\` ${problem.text}`);
  const others = (vm.pendingKeys ?? []).filter((k) => k !== node.disk && k !== "scsihw");
  if (others.length === 0) return [];
  if (!node.applyPendingChanges) {
    result.errors.push(
      `${who} has other pending changes a qm reboot would apply too: ${others.join(", ")}; apply or revert them first (qm pending ${node.vmid}; qm set ${node.vmid} --revert KEY), or set \`applyPendingChanges: true\` on the node, refusing`,
    );
  }
  return [`also applies pending ${others.join(", ")}`];
}

function planNode(
  spec: ClusterSpec,
  node: NodeSpec,
  observed: Observed,
  configYaml: string,
  overrides: RollOverrides,
  result: Preflight,
  tokens: StackTokens | undefined,
): NodePlan {
  const reasons: string[] = [];
  let restart: NodePlan["restart"] = "none";
  const own = observed.nodes.get(node.name);
  const host = observed.hosts.get(node.host);
  if (reachable(host)) {
    const vm = host.vms.get(node.vmid);
    if (!vm || Object.keys(vm.current).length === 0) {
      result.errors.push(
        `node \`${node.name}\`: VM ${node.vmid} not found on host \`${node.host}\``,
      );
    } else {
      const want = { disk: node.disk, ...spec.disk };
      const owed = owedDiskChanges(vm.current, want, host.storage);
      const restarts = owed.length > 0 && vm.status === "running";
      const also = checkVm(spec, node, vm, host.storage, restarts, result);
      if (owed.length > 0) {
        restart = "vm";
        // A run that stopped between its qm set and its qm reboot left the options pending.
        const setAlready = owedDiskChanges(vm.pending, want, host.storage).length === 0;
        const left = setAlready ? "; already set, pending until the restart" : "";
        reasons.push(`qm reboot (${[...owed, ...also].join(", ")}${left})`);
      }
    }
  }
  const running = runningVersion(node, observed);
  if (running !== node.k3sVersion) {
    checkVersionStep(node, running, overrides, result);
    // A run that stopped after the install (a dropped connection, a killed CLI) left the binary.
    const onDisk =
      reachable(own) && running !== undefined && own.installedVersion === node.k3sVersion;
    reasons.push(
      `K3s ${running ?? "not installed"}→${node.k3sVersion}${onDisk ? " (installed, not running yet: starts at the restart)" : ""}`,
    );
    if (restart === "none") restart = "k3s";
  }
  if (reachable(own)) {
    const changed = changedConfigKeys(own.configYaml, configYaml);
    const same =
      restart === "none" && tokens ? sameSettingsAs(node, own, configYaml, tokens) : undefined;
    if (same !== undefined) {
      result.sameSettingsAs[node.name] = same;
      if (changed.length > 0)
        reasons.push(
          `config.yaml in the program's form (${changed.join(", ")}): the settings K3s runs with now, written without a restart`,
        );
    } else if (changed.length > 0) {
      reasons.push(`config.yaml (${changed.join(", ")})`);
      if (restart === "none") restart = "k3s";
      if (node.role === "server" && own.service) {
        const servers = spec.nodes.filter((n) => n.role === "server").length;
        checkImmutable(node, own.configYaml, configYaml, servers, result);
        const identity = identityProblems(node, runningIdentity(own), configYaml, true);
        result.errors.push(...identity.errors);
        result.warnings.push(...identity.warnings);
      }
    }
  }
  return { node: node.name, restart, reasons };
}

/**
 * When the stack's config.yaml gives K3s the settings it runs with now (`settingsThatChange`: the
 * same unit, env file and drop-ins, the token file holding the stack's token), the sha256 of the
 * config.yaml it started with: the roll then writes the file without restarting K3s, keeping that
 * one beside it (K3S_STARTED_CONFIG_FILE) for the steps to check. Only for a running K3s that
 * keeps its version and VM; undefined where the file is already the stack's and nothing was kept
 * (the roll's usual case), so a converged node's steps stay as they are.
 */
function sameSettingsAs(
  node: NodeSpec,
  own: NodeObservation,
  configYaml: string,
  tokens: StackTokens,
): string | undefined {
  if (!own.service || own.installedVersion !== node.k3sVersion) return undefined;
  const base =
    own.configAsStarted ?? (own.configSha && { sha: own.configSha, text: own.configYaml });
  if (!base) return undefined;
  if (!own.configAsStarted && own.configSha === sha256(configYaml)) return undefined;
  const changes = settingsThatChange(own, base.text, configYaml, node.role, tokens);
  return changes.length === 0 ? base.sha : undefined;
}

function checkVersionStep(
  node: NodeSpec,
  running: string | undefined,
  overrides: RollOverrides,
  result: Preflight,
) {
  const have = running ? parseK3sVersion(running) : undefined;
  const want = parseK3sVersion(node.k3sVersion)!;
  if (!have) return;
  if (compareK3sVersions(want, have) < 0) {
    result.errors.push(
      `node \`${node.name}\`, \`k3sVersion\`: runs ${running}; ${node.k3sVersion} would downgrade it, refusing`,
    );
  } else if (want.major !== have.major || want.minor - have.minor > 1) {
    const skip = `node \`${node.name}\`, \`k3sVersion\`: runs ${running}; ${node.k3sVersion} skips a minor release (upgrade one minor at a time)`;
    if (node.role === "agent" && overrides.allowAgentMinorSkip) result.warnings.push(skip);
    else result.errors.push(`${skip}, refusing`);
  }
}

/** The value K3s compares for a key: its default when unset, and for `disable` only the
 * critical entries. */
function criticalValue(config: Record<string, unknown>, key: string): string {
  if (key === "disable") {
    const list = ([] as unknown[]).concat(config.disable ?? []).map(String);
    return JSON.stringify(CRITICAL_DISABLE_ENTRIES.filter((e) => list.includes(e)));
  }
  return JSON.stringify(config[key] ?? K3S_DEFAULTS[key] ?? false);
}

function checkImmutable(
  node: NodeSpec,
  before: string,
  after: string,
  servers: number,
  result: Preflight,
) {
  const a = yamlMap(before);
  const b = yamlMap(after);
  for (const key of IMMUTABLE_SERVER_KEYS) {
    const was = criticalValue(a, key);
    const will = criticalValue(b, key);
    if (was !== will) {
      result.errors.push(
        `node \`${node.name}\`, \`serverConfig.${key}\`: ${was} → ${will} cannot change on a running cluster, refusing`,
      );
    }
  }
  if (servers < 2) return;
  for (const key of [...CRITICAL_SERVER_KEYS, "disable"]) {
    if (IMMUTABLE_SERVER_KEYS.includes(key)) continue;
    const was = criticalValue(a, key);
    const will = criticalValue(b, key);
    if (was !== will) {
      result.errors.push(
        `node \`${node.name}\`, \`serverConfig.${key}\`: ${was} → ${will}: a K3s critical flag (CriticalControlArgs) must be the same on every server; a one-at-a-time roll would leave the servers running with different values, and a server that joins meanwhile fails to join ("critical configuration value mismatch between servers"); change it on all servers while they are stopped, refusing`,
      );
    }
  }
}

function checkQuorum(
  spec: ClusterSpec,
  observed: Observed,
  overrides: RollOverrides,
  result: Preflight,
) {
  const members = etcdMemberList(observed);
  if (!members) return;
  const voters = members.filter((m) => !m.isLearner).length;
  const restarting = result.plan
    .filter((p) => p.restart !== "none")
    .map((p) => spec.nodes.find((n) => n.name === p.node)!);
  const restartsServer = restarting.some((n) => members.some((m) => memberOf(m.name, n.nodeName)));
  if (!restartsServer) return;
  if (voters === 2) {
    const message = "etcd has 2 voting members: restarting either loses quorum until it is back";
    if (overrides.allowTwoServers) result.warnings.push(message);
    else result.errors.push(`${message}; refusing without \`cluster.roll.allowTwoServers: true\``);
  } else if (voters === 1) {
    result.warnings.push(
      "etcd has 1 voting member: its restart takes the API down until it is back",
    );
  }
}

/** What the fsync gate before each server's roll holds it to; undefined with one server (no
 * other member to read). */
export function fsyncGateLine(
  spec: Pick<ClusterSpec, "nodes" | "roll" | "gateTimeoutSeconds">,
): string | undefined {
  if (spec.nodes.filter((n) => n.role === "server").length < 2) return undefined;
  return `before each server's roll, every other etcd member's WAL fsync p99 over ${FSYNC_WINDOW_SECONDS} s must be ≤ ${spec.roll.maxFsyncP99Ms} ms (cluster.roll.maxFsyncP99Ms): a slower member holds the roll up to ${spec.gateTimeoutSeconds} s (gateTimeoutSeconds), then stops it`;
}

/** The plan as preview prints it: the repair (when on), then the roll, then the agents' batches
 * (`agentBatchLine`, when they roll in batches) and the fsync gate. */
export function formatPlan(
  plan: readonly NodePlan[],
  repairs: readonly RepairEntry[] = [],
  drain = false,
  fsyncGate?: string,
  agentBatches?: string,
): string {
  const lines = plan.map(
    (p, i) =>
      `  ${i + 1}. ${p.node}: ${p.reasons.length > 0 ? p.reasons.join("; ") : "nothing to restart"}`,
  );
  const repair =
    repairs.length === 0
      ? []
      : [
          "repair first (restarts only what is still unhealthy then, one node at a time, gated):",
          ...repairs.map((r) => `  - ${r.node}: restart K3s (${r.reason})`),
        ];
  const order = agentBatches
    ? "servers one at a time, then agents in batches"
    : "one node at a time, servers first";
  const heading = `roll plan (${order}${drain ? "; a node is drained before its restart" : ""}):`;
  return [
    ...repair,
    heading,
    ...lines,
    ...(agentBatches ? [agentBatches] : []),
    ...(fsyncGate ? [fsyncGate] : []),
  ].join("\n");
}
