import { Document, isMap, isScalar, YAMLMap } from "yaml";
import { CONFIG_NAMESPACE } from "../config/stackFile";
import { DEFAULT_SYSCTL } from "../config/schema";
import { fingerprint } from "../probe/sshRefusals";
import { agree, Agreement } from "./agreement";
import type { DiscoveredHost, DiscoveredNode } from "./facts";
import { matchNodes, MatchedNode } from "./match";

export interface DiscoverInput {
  readonly stack: string;
  readonly hosts: readonly DiscoveredHost[];
  readonly nodes: readonly DiscoveredNode[];
  readonly sshUser: string;
  /** When it was read (ISO), for the header. */
  readonly readAt: string;
}

export interface DiscoveredStack {
  /** `Pulumi.<stack>.yaml` as written. */
  readonly text: string;
  /** What was left out, one line each: printed at the end, never guessed into the file. */
  readonly leftOut: string[];
  readonly warnings: string[];
}

const NS = CONFIG_NAMESPACE;

/** `SHA256:...` of a host key line, as `ssh-keygen -lf` prints it on the host. */
export function hostKeyFingerprint(line: string): string {
  return fingerprint(Buffer.from(line.split(" ")[1] ?? "", "base64"));
}

function nodeEntry(m: MatchedNode, a: Agreement) {
  const g = m.node.guest!;
  const config = a.nodeConfig.get(m.node.name) ?? {};
  const sysctl = a.nodeSysctl.get(m.node.name);
  const version = a.nodeVersions.get(m.node.name);
  return {
    host: m.host.name,
    vmid: m.vm.vmid,
    disk: m.disk,
    address: g.address,
    role: m.node.role,
    hostKey: g.hostKey,
    ...(Object.keys(config).length > 0 ? { config } : {}),
    ...(sysctl ? { sysctl } : {}),
    ...(version ? { k3sVersion: version } : {}),
  };
}

function clusterEntry(matched: readonly MatchedNode[], a: Agreement, sshUser: string) {
  return {
    k3sVersion: a.k3sVersion,
    registrationAddress: a.registrationAddress,
    serverConfig: a.serverConfig,
    sysctl: a.sysctl,
    ...(a.disk ? { disk: a.disk } : {}),
    ...(a.zfsTxgTimeout !== undefined ? { zfsTxgTimeout: a.zfsTxgTimeout } : {}),
    ssh: { user: sshUser },
    rollOrder: [
      ...matched.filter((m) => m.node.role === "server"),
      ...matched.filter((m) => m.node.role === "agent"),
    ].map((m) => m.node.name),
  };
}

/** The post's tweaks the cluster does not run yet, as commented-out lines, one sentence each. */
function tweakLines(a: Agreement): string[] {
  const lines: string[] = [];
  if (a.disk && (a.disk.cache !== "writeback" || !a.disk.iothread)) {
    lines.push(
      " The post's disk tweak: the host page cache acknowledges etcd's fdatasync, and an I/O",
      " thread serves the disk (applied by a gated qm reboot, one node at a time):",
      " disk: { cache: writeback, iothread: true }",
    );
  }
  const missing = Object.entries(DEFAULT_SYSCTL).filter(([k, v]) => a.sysctl[k] !== v);
  if (missing.length > 0) {
    lines.push(
      " The post's sysctl: less swapping and smaller dirty-page bursts in front of etcd's writes",
      " (merge into sysctl above):",
      ...missing.map(([k, v]) => ` ${k}: ${v}`),
    );
  }
  if (a.zfsTxgTimeout !== undefined && a.zfsTxgTimeout !== 3) {
    lines.push(
      " The post's ZFS tweak: commit a transaction group every 3 s instead of every 5 s:",
      " zfsTxgTimeout: 3",
    );
  }
  return lines;
}

function commentBeforeKey(map: unknown, key: string, comment: string): void {
  if (!isMap(map)) return;
  const pair = (map as YAMLMap).items.find((p) => isScalar(p.key) && p.key.value === key);
  if (pair && isScalar(pair.key)) pair.key.commentBefore = comment;
}

/** The stack file for what discover read: the nodes it could tie to a VM, as they run now. */
export function renderDiscoveredStack(input: DiscoverInput): DiscoveredStack {
  const { matched, leftOut } = matchNodes(input.nodes, input.hosts);
  const a = agree(matched);
  const hosts = input.hosts.filter((h) => matched.some((m) => m.host === h));
  const doc = new Document({
    config: {
      [`${NS}:cluster`]: clusterEntry(matched, a, input.sshUser),
      [`${NS}:hosts`]: Object.fromEntries(
        hosts.map((h) => [h.name, { address: h.address, hostKey: h.hostKey }]),
      ),
      [`${NS}:nodes`]: Object.fromEntries(matched.map((m) => [m.node.name, nodeEntry(m, a)])),
    },
  });
  doc.commentBefore = [
    ` Written by \`npm run discover\` at ${input.readAt} from what the cluster runs. Unless`,
    " a warning it printed says otherwise, its first preview restarts nothing: it plans the",
    " program's own config.yaml (the token as token-file, install-time flags in the file),",
    " written without a restart where K3s runs those settings already.",
    " Review it, then switch on the tweaks below in a commit of their own.",
    " Secrets are not in this file; set them with",
    "   pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519",
    '   pulumi config set --secret token "$(ssh root@SERVER cat /var/lib/rancher/k3s/server/token)"',
  ].join("\n");
  const tweaks = tweakLines(a);
  const cluster = doc.getIn(["config", `${NS}:cluster`], true);
  if (tweaks.length > 0 && isMap(cluster)) cluster.comment = tweaks.join("\n");
  const hostsMap = doc.getIn(["config", `${NS}:hosts`], true);
  for (const h of hosts) {
    commentBeforeKey(hostsMap, h.name, ` host key ${hostKeyFingerprint(h.hostKey)}`);
  }
  const nodesMap = doc.getIn(["config", `${NS}:nodes`], true);
  for (const m of matched) {
    const version = a.nodeVersions.get(m.node.name);
    const notes = [
      ` host key ${hostKeyFingerprint(m.node.guest!.hostKey)}; VM tied by ${m.by}`,
      ...(version ? [` runs ${version}, not the cluster's ${a.k3sVersion}`] : []),
    ];
    commentBeforeKey(nodesMap, m.node.name, notes.join("\n"));
  }
  return {
    text: doc.toString({ lineWidth: 0 }),
    leftOut,
    warnings: a.warnings,
  };
}
