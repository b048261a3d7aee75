import { ConfigError, Problem, zodProblems } from "./problems";
import { checkRules } from "./rules";
import { StackConfig } from "./schema";
import { ClusterSpec, HostSpec, NodeSpec } from "./spec";

export interface ValidatedCluster {
  readonly spec: ClusterSpec;
  readonly warnings: readonly Problem[];
}

/** Validates raw stack config (the three structured keys) and returns the ClusterSpec the
 * components use. Throws a ConfigError listing every problem when anything is wrong. */
export function buildClusterSpec(raw: unknown): ValidatedCluster {
  const parsed = StackConfig.safeParse(raw);
  if (!parsed.success) throw new ConfigError(zodProblems(parsed.error));
  const config = parsed.data;
  const { errors, warnings } = checkRules(config);
  if (errors.length > 0) throw new ConfigError(errors);
  return { spec: toSpec(config), warnings };
}

/** Nodes in `cluster.rollOrder`, else by name: Pulumi hands structured config over with sorted
 * keys, so the order written in the stack file cannot be relied on. */
function orderedNodes(config: StackConfig): [string, StackConfig["nodes"][string]][] {
  const order = config.cluster.rollOrder ?? Object.keys(config.nodes).sort();
  return order.map((name) => [name, config.nodes[name]]);
}

/** A warning for `validate`: the stack file lists nodes in an order the roll will not follow. */
export function listedOrderWarning(raw: unknown): string | undefined {
  const parsed = StackConfig.safeParse(raw);
  if (!parsed.success || parsed.data.cluster.rollOrder) return undefined;
  const listed = Object.keys(parsed.data.nodes);
  const sorted = [...listed].sort();
  if (listed.join() === sorted.join()) return undefined;
  return `cluster, \`rollOrder\`: not set, so nodes roll in alphabetical order (${sorted.join(", ")}), not in the order listed; Pulumi does not keep the order of config keys`;
}

function toSpec(config: StackConfig): ClusterSpec {
  const { cluster } = config;
  const hosts: HostSpec[] = Object.entries(config.hosts).map(([name, host]) => ({
    name,
    address: host.address,
    port: host.port ?? 22,
    user: host.user ?? cluster.ssh.user,
    hostKey: host.hostKey,
  }));
  const nodes: NodeSpec[] = orderedNodes(config).map(([name, node]) => ({
    name,
    host: node.host,
    vmid: node.vmid,
    disk: node.disk,
    address: node.address,
    port: node.port ?? 22,
    user: cluster.ssh.user,
    role: node.role,
    hostKey: node.hostKey,
    nodeName: node.nodeName ?? name,
    config: node.config ?? {},
    k3sVersion: node.k3sVersion ?? cluster.k3sVersion,
    controllerChange: node.controllerChange ?? false,
    allowIdentityChange: node.allowIdentityChange ?? false,
    applyPendingChanges: node.applyPendingChanges ?? false,
    sysctl: sortedByKey({ ...cluster.sysctl, ...node.sysctl }),
  }));
  return {
    k3sVersion: cluster.k3sVersion,
    serverConfig: cluster.serverConfig,
    registrationAddress: cluster.registrationAddress,
    sysctl: sortedByKey(cluster.sysctl),
    disk: cluster.disk,
    zfsTxgTimeout: cluster.zfsTxgTimeout,
    installerUrl: cluster.installerUrl,
    gateTimeoutSeconds: cluster.gateTimeoutSeconds,
    roll: cluster.roll,
    hosts,
    nodes,
  };
}

/** Sysctl maps in key order: the defaults and Pulumi's config hand them over in different
 * orders, and a new order alone must not rewrite a file or count as drift. */
function sortedByKey<T>(map: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
