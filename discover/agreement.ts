import { isDeepStrictEqual } from "util";
import { compareK3sVersions, parseK3sVersion } from "../config/version";
import { MANAGED_KEYS, MUST_MATCH_SERVER_KEYS } from "../config/k3sKeys";
import { effectiveDisk } from "../plan/disk";
import type { MatchedNode } from "./match";

type K3sValue = string | boolean | readonly string[];

/** The cluster-wide values as the cluster runs them, and what each node runs differently. */
export interface Agreement {
  readonly k3sVersion: string;
  /** Node name → the version it runs, for the nodes that run another than `k3sVersion`. */
  readonly nodeVersions: ReadonlyMap<string, string>;
  readonly serverConfig: Readonly<Record<string, K3sValue>>;
  /** Node name → its node-local keys. */
  readonly nodeConfig: ReadonlyMap<string, Readonly<Record<string, K3sValue>>>;
  readonly sysctl: Readonly<Record<string, string>>;
  readonly nodeSysctl: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Undefined where the nodes' disks differ (a warning says how). */
  readonly disk?: { readonly cache: string; readonly iothread: boolean };
  /** Undefined where the hosts differ or none has ZFS. */
  readonly zfsTxgTimeout?: number;
  readonly registrationAddress: string;
  /** Every disagreement the file cannot carry, naming the node (or host) and the key. */
  readonly warnings: string[];
}

/** All nodes' version when they agree, else the highest server version. */
function clusterVersion(matched: readonly MatchedNode[]): string {
  const versions = [...new Set(matched.map((m) => m.node.kubeletVersion))];
  if (versions.length === 1) return versions[0];
  const servers = matched.filter((m) => m.node.role === "server").map((m) => m.node.kubeletVersion);
  const pool = servers.length > 0 ? servers : versions;
  return [...pool].sort((a, b) => compareK3sVersions(parseK3sVersion(b)!, parseK3sVersion(a)!))[0];
}

function describe(value: K3sValue | undefined): string {
  if (value === undefined) return "not set";
  if (typeof value === "boolean") return `\`${value}\``;
  return typeof value === "string" ? `\`${value}\`` : `[${value.join(", ")}]`;
}

/** Must-match keys shared by every server go to serverConfig; one that differs is left out with
 * a warning naming each server's value. Every other key stays with its node. */
function splitConfig(matched: readonly MatchedNode[], warnings: string[]) {
  const servers = matched.filter((m) => m.node.role === "server");
  const serverConfig: Record<string, K3sValue> = {};
  const nodeConfig = new Map<string, Record<string, K3sValue>>();
  for (const m of matched) nodeConfig.set(m.node.name, {});
  const configOf = (m: MatchedNode) => m.node.guest?.k3sConfig ?? {};
  const keys = new Set(matched.flatMap((m) => Object.keys(configOf(m))));
  for (const key of [...keys].sort()) {
    if (MANAGED_KEYS.includes(key)) continue;
    const mustMatch = MUST_MATCH_SERVER_KEYS.includes(key);
    if (mustMatch && servers.length > 0) {
      const values = servers.map((m) => configOf(m)[key]);
      if (values.every((v) => isDeepStrictEqual(v, values[0])) && values[0] !== undefined) {
        serverConfig[key] = values[0];
      } else if (values.some((v) => v !== undefined)) {
        const each = servers.map((m, i) => `\`${m.node.name}\` ${describe(values[i])}`);
        warnings.push(
          `servers differ on \`${key}\` (${each.join(", ")}); K3s needs one value on every server: left out of serverConfig, set it yourself`,
        );
      }
      for (const m of matched.filter((n) => n.node.role === "agent")) {
        const value = configOf(m)[key];
        if (value !== undefined) nodeConfig.get(m.node.name)![key] = value;
      }
      continue;
    }
    for (const m of matched) {
      const value = configOf(m)[key];
      if (value !== undefined) nodeConfig.get(m.node.name)![key] = value;
    }
  }
  return { serverConfig, nodeConfig };
}

/** Keys with one value on every node go to the cluster, the rest to their node. */
function splitSysctl(matched: readonly MatchedNode[]) {
  const files = matched.map((m) => m.node.guest?.sysctl ?? {});
  const shared: Record<string, string> = {};
  for (const [key, value] of Object.entries(files[0] ?? {})) {
    if (files.every((f) => f[key] === value)) shared[key] = value;
  }
  const nodeSysctl = new Map<string, Record<string, string>>();
  matched.forEach((m, i) => {
    const own = Object.entries(files[i]).filter(([k]) => !(k in shared));
    if (own.length > 0) nodeSysctl.set(m.node.name, Object.fromEntries(own));
  });
  return { sysctl: shared, nodeSysctl };
}

function sharedDisk(matched: readonly MatchedNode[], warnings: string[]) {
  const disks = matched.map((m) => {
    const d = effectiveDisk(m.vm.config, m.disk, m.host.storage);
    return { name: m.node.name, cache: d.cache, iothread: d.iothread };
  });
  const first = disks[0];
  if (!first) return undefined;
  if (disks.every((d) => d.cache === first.cache && d.iothread === first.iothread)) {
    return { cache: first.cache, iothread: first.iothread };
  }
  const each = disks.map((d) => `\`${d.name}\` cache=${d.cache} iothread=${d.iothread ? 1 : 0}`);
  warnings.push(
    `the nodes' etcd disks differ (${each.join(", ")}); \`cluster.disk\` is one setting: left at the post's writeback and iothread, so the first preview changes the others`,
  );
  return undefined;
}

function sharedTxg(matched: readonly MatchedNode[], warnings: string[]) {
  const hosts = [...new Map(matched.map((m) => [m.host.name, m.host])).values()];
  const values = hosts.filter((h) => h.txgTimeout !== undefined);
  if (values.length === 0) return undefined;
  if (values.every((h) => h.txgTimeout === values[0].txgTimeout)) return values[0].txgTimeout;
  const each = values.map((h) => `\`${h.name}\` ${h.txgTimeout} s`);
  warnings.push(
    `the hosts' zfs_txg_timeout differ (${each.join(", ")}); \`cluster.zfsTxgTimeout\` is one setting: left at the post's 3 s`,
  );
  return undefined;
}

/** The URL joining nodes use: the `server` key they were installed with, else the first server's
 * address. */
function registration(matched: readonly MatchedNode[], warnings: string[]): string {
  const urls = [...new Set(matched.map((m) => m.node.guest?.k3sConfig.server))].filter(
    (u): u is string => typeof u === "string",
  );
  if (urls.length > 1) {
    warnings.push(`nodes join through different servers (${urls.join(", ")}); the first is kept`);
  }
  if (urls.length > 0) return urls[0];
  const first = matched.find((m) => m.node.role === "server");
  return `https://${first?.node.internalIp ?? "SERVER"}:6443`;
}

/** What the matched nodes share, and how each differs, as the stack file can say it. */
export function agree(matched: readonly MatchedNode[]): Agreement {
  const warnings: string[] = [];
  const k3sVersion = clusterVersion(matched);
  const nodeVersions = new Map(
    matched
      .filter((m) => m.node.kubeletVersion !== k3sVersion)
      .map((m) => [m.node.name, m.node.kubeletVersion]),
  );
  const { serverConfig, nodeConfig } = splitConfig(matched, warnings);
  const { sysctl, nodeSysctl } = splitSysctl(matched);
  return {
    k3sVersion,
    nodeVersions,
    serverConfig,
    nodeConfig,
    sysctl,
    nodeSysctl,
    disk: sharedDisk(matched, warnings),
    zfsTxgTimeout: sharedTxg(matched, warnings),
    registrationAddress: registration(matched, warnings),
    warnings,
  };
}
