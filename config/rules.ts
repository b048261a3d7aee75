import { MANAGED_KEYS, MUST_MATCH_SERVER_KEYS, NODE_LOCAL_KEYS } from "./k3sKeys";
import { Problem, problemAt } from "./problems";
import { StackConfig } from "./schema";
import { checkSysctlValues } from "./sysctlValues";
import { compareK3sVersions, minorDistance, parseK3sVersion } from "./version";

export interface RuleFindings {
  readonly errors: Problem[];
  readonly warnings: Problem[];
}

type Nodes = [string, StackConfig["nodes"][string]][];

const MANAGED_KEY_SOURCE: Record<string, string> = {
  token: "the secret `k3s-homelab:token`",
  "agent-token": "the secret `k3s-homelab:agentToken`",
  "token-file": "the secret `k3s-homelab:token`",
  "agent-token-file": "the secret `k3s-homelab:agentToken`",
  server: "`cluster.registrationAddress`",
};

/** Cross-field rules the schema alone cannot express. Pure: config in, findings out. */
export function checkRules(config: StackConfig): RuleFindings {
  const findings: RuleFindings = { errors: [], warnings: [] };
  const nodes: Nodes = Object.entries(config.nodes);
  checkHostsAndIds(config, nodes, findings);
  checkSshEndpoints(config, nodes, findings);
  checkDisks(config, nodes, findings);
  checkConfigKeys(config, nodes, findings);
  checkVersions(config, nodes, findings);
  checkQuorum(nodes, findings);
  checkRollOrder(config, findings);
  checkSshUsers(config, findings);
  checkSysctlValues(config, findings.errors);
  return findings;
}

const NOT_ROOT =
  "is not root: every step writes under /etc, runs qm, systemctl and the K3s installer, and this version runs them as the login user without sudo; log in as root with a key (`PermitRootLogin prohibit-password`)";

/** Steps run as the login user; a non-root login (an Ubuntu cloud image's `ubuntu`) would fail
 * halfway, so it is refused before anything runs. */
function checkSshUsers(config: StackConfig, { errors }: RuleFindings): void {
  if (config.cluster.ssh.user !== "root")
    errors.push(
      problemAt(["cluster", "ssh", "user"], `\`${config.cluster.ssh.user}\` ${NOT_ROOT}`),
    );
  for (const [name, host] of Object.entries(config.hosts)) {
    if (host.user !== undefined && host.user !== "root")
      errors.push(problemAt(["hosts", name, "user"], `\`${host.user}\` ${NOT_ROOT}`));
  }
}

function checkRollOrder(config: StackConfig, { errors }: RuleFindings): void {
  const order = config.cluster.rollOrder;
  if (!order) return;
  const names = Object.keys(config.nodes);
  const seen = new Set<string>();
  for (const name of order) {
    if (!names.includes(name))
      errors.push(problemAt(["cluster", "rollOrder"], `\`${name}\` is not a node`));
    else if (seen.has(name))
      errors.push(problemAt(["cluster", "rollOrder"], `\`${name}\` is listed twice`));
    seen.add(name);
  }
  const missing = names.filter((n) => !seen.has(n));
  if (missing.length > 0) {
    errors.push(
      problemAt(
        ["cluster", "rollOrder"],
        `must list every node; missing ${missing.map((n) => `\`${n}\``).join(", ")}`,
      ),
    );
  }
}

function checkHostsAndIds(config: StackConfig, nodes: Nodes, { errors }: RuleFindings): void {
  const vmids = new Map<string, string>();
  const kubeNames = new Map<string, string>();
  for (const [name, node] of nodes) {
    if (!(node.host in config.hosts)) {
      const known = Object.keys(config.hosts).join(", ") || "none";
      errors.push(
        problemAt(
          ["nodes", name, "host"],
          `no Proxmox host \`${node.host}\` in \`hosts\` (declared: ${known})`,
        ),
      );
    }
    const vmKey = `${node.host}/${node.vmid}`;
    const vmOwner = vmids.get(vmKey);
    if (vmOwner) {
      errors.push(
        problemAt(
          ["nodes", name, "vmid"],
          `${node.vmid} is already used by node \`${vmOwner}\` on host \`${node.host}\``,
        ),
      );
    } else vmids.set(vmKey, name);
    const kubeName = node.nodeName ?? name;
    const kubeOwner = kubeNames.get(kubeName);
    if (kubeOwner) {
      errors.push(
        problemAt(
          ["nodes", name, "nodeName"],
          `\`${kubeName}\` is already the Kubernetes name of node \`${kubeOwner}\``,
        ),
      );
    } else kubeNames.set(kubeName, name);
  }
}

/** Every host and node is its own machine: two behind one address and port would run each other's
 * steps, and the pinned host key refuses one of them only when `up` connects. Host names are
 * compared without case, as DNS does. */
function checkSshEndpoints(config: StackConfig, nodes: Nodes, { errors }: RuleFindings): void {
  const machines = [
    ...Object.entries(config.hosts).map(([name, host]) => ({ section: "hosts", name, ...host })),
    ...nodes.map(([name, node]) => ({ section: "nodes", name, ...node })),
  ];
  const owners = new Map<string, string>();
  for (const { section, name, address, ...machine } of machines) {
    const port = machine.port ?? 22;
    const endpoint = `${address.toLowerCase()} ${port}`;
    const owner = owners.get(endpoint);
    if (owner) {
      errors.push(
        problemAt(
          [section, name, "address"],
          `\`${address}\` port ${port} is already the SSH endpoint of ${owner}`,
        ),
      );
    } else owners.set(endpoint, `${section === "hosts" ? "host" : "node"} \`${name}\``);
  }
}

function checkDisks(config: StackConfig, nodes: Nodes, { errors }: RuleFindings): void {
  if (!config.cluster.disk.iothread) return;
  for (const [name, node] of nodes) {
    if (/^(sata|ide)/.test(node.disk)) {
      errors.push(
        problemAt(
          ["nodes", name, "disk"],
          `${node.disk} cannot have iothread=1 (only virtio-blk, or SCSI with virtio-scsi-single); move etcd to a scsi or virtio disk, or set \`cluster.disk.iothread: false\``,
        ),
      );
    }
  }
}

function checkConfigKeys(config: StackConfig, nodes: Nodes, { errors }: RuleFindings): void {
  for (const key of Object.keys(config.cluster.serverConfig)) {
    if (MANAGED_KEYS.includes(key)) {
      errors.push(
        problemAt(
          ["cluster", "serverConfig", key],
          `written by this program from ${MANAGED_KEY_SOURCE[key]}; remove it`,
        ),
      );
    } else if (NODE_LOCAL_KEYS.includes(key)) {
      errors.push(
        problemAt(
          ["cluster", "serverConfig", key],
          "identifies one machine; set it in that node's `config`",
        ),
      );
    }
  }
  for (const [name, node] of nodes) {
    for (const key of Object.keys(node.config ?? {})) {
      if (MANAGED_KEYS.includes(key)) {
        errors.push(
          problemAt(
            ["nodes", name, "config", key],
            `written by this program from ${MANAGED_KEY_SOURCE[key]}; remove it`,
          ),
        );
      } else if (MUST_MATCH_SERVER_KEYS.includes(key)) {
        errors.push(
          problemAt(
            ["nodes", name, "config", key],
            "must be identical on every server; set it in `cluster.serverConfig`",
          ),
        );
      }
    }
  }
}

function checkVersions(
  config: StackConfig,
  nodes: Nodes,
  { errors, warnings }: RuleFindings,
): void {
  const clusterVersion = parseK3sVersion(config.cluster.k3sVersion);
  if (!clusterVersion) return; // the schema already reported it
  const effective = nodes.map(([name, node]) => ({
    name,
    role: node.role,
    text: node.k3sVersion ?? config.cluster.k3sVersion,
    version: parseK3sVersion(node.k3sVersion ?? config.cluster.k3sVersion),
  }));
  for (const node of effective) {
    if (!node.version || node.text === config.cluster.k3sVersion) continue;
    const distance = minorDistance(node.version, clusterVersion);
    const path = ["nodes", node.name, "k3sVersion"];
    if (distance > 1) {
      errors.push(
        problemAt(
          path,
          `${node.text} is more than one minor from the cluster's ${config.cluster.k3sVersion}; K3s allows at most one minor of skew, and never skipping a minor`,
        ),
      );
    } else if (distance === 1) {
      warnings.push(
        problemAt(
          path,
          `${node.text} is one minor from the cluster's ${config.cluster.k3sVersion}: allowed while a staged upgrade runs, finish it soon`,
        ),
      );
    }
  }
  const servers = effective.filter((n) => n.role === "server" && n.version);
  for (const agent of effective.filter((n) => n.role === "agent" && n.version)) {
    const behind = servers.find((s) => compareK3sVersions(s.version!, agent.version!) < 0);
    if (behind) {
      errors.push(
        problemAt(
          ["nodes", agent.name, "k3sVersion"],
          `agent would run ${agent.text} but server \`${behind.name}\` runs ${behind.text}: servers must never be behind agents`,
        ),
      );
    }
  }
}

function checkQuorum(nodes: Nodes, { errors, warnings }: RuleFindings): void {
  const servers = nodes.filter(([, node]) => node.role === "server");
  if (servers.length === 0) {
    errors.push("cluster: no node has `role: server`; K3s needs at least one server");
    return;
  }
  if (servers.length === 1) {
    warnings.push(
      `cluster: only 1 server (\`${servers[0][0]}\`): every restart of it is an outage of the API and etcd`,
    );
  } else if (servers.length === 2) {
    warnings.push(
      "cluster: 2 servers: any server restart loses etcd quorum; run 3 (the roll refuses 2 servers without an override)",
    );
  } else if (servers.length % 2 === 0) {
    warnings.push(
      `cluster: ${servers.length} servers is an even count: it tolerates no more failures than ${servers.length - 1}`,
    );
  }
  const perHost = new Map<string, number>();
  for (const [, node] of servers) perHost.set(node.host, (perHost.get(node.host) ?? 0) + 1);
  for (const [host, count] of perHost) {
    if (servers.length > 1 && count > servers.length / 2) {
      warnings.push(
        `cluster: ${count} of ${servers.length} servers run on host \`${host}\`: losing that host loses etcd quorum`,
      );
    }
  }
}
