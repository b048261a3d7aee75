// The read-only scripts discover runs over SSH, and what it makes of their output.
import { z } from "zod";
import { parseNodeProbe, parseQmConfig, parseStorageCfg } from "../probe/observations";
import { renderNodeProbe, SECTION } from "../probe/scripts";
import { splitSections } from "../probe/sections";
import type { DiscoveredGuest, DiscoveredHost, DiscoveredNode, DiscoveredVm } from "./facts";
import { k3sConfigAsRun } from "./guestConfig";
import { BLOCK_MOUNTS_SCRIPT, dataDiskOf, DEFAULT_DATA_DIR, parseBlockMounts } from "./dataDisk";

const mark = (name: string) => `printf '\\n${SECTION} %s\\n' "${name}"`;

/** A Proxmox host's VMs (`qm list`, then each one's running config and, where its guest agent
 * answers, the guest's addresses), its storage config and ZFS txg. Changes nothing. */
export function renderHostDiscovery(): string {
  return [
    "export LC_ALL=C",
    `${mark("vms")}; qm list 2>/dev/null || true`,
    "for vmid in $(qm list 2>/dev/null | awk 'NR > 1 { print $1 }'); do",
    `  ${mark("vm $vmid config")}; qm config "$vmid" --current 2>/dev/null || true`,
    `  ${mark("vm $vmid agent")}; qm guest cmd "$vmid" network-get-interfaces 2>/dev/null || true`,
    "done",
    `${mark("storage")}; cat /etc/pve/storage.cfg 2>/dev/null || true`,
    `${mark("txg")}; cat /sys/module/zfs/parameters/zfs_txg_timeout 2>/dev/null || echo '!absent'`,
    "",
  ].join("\n");
}

/** The guest agent's `network-get-interfaces` answer (qemu-guest-agent `qga/qapi-schema.json`
 * `GuestNetworkInterface`): only the addresses are used. */
const AgentInterfaces = z.array(
  z.looseObject({
    "ip-addresses": z.array(z.looseObject({ "ip-address": z.string() })).optional(),
  }),
);

function agentAddresses(text: string | undefined): string[] | undefined {
  if (!text || text.trim() === "") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = AgentInterfaces.safeParse(json);
  if (!parsed.success) return undefined;
  return parsed.data.flatMap((i) => (i["ip-addresses"] ?? []).map((a) => a["ip-address"]));
}

export function parseHostDiscovery(
  stdout: string,
  host: Pick<DiscoveredHost, "name" | "address" | "hostKey">,
): DiscoveredHost {
  const s = splitSections(stdout);
  const vmids = (s.get("vms") ?? "")
    .split("\n")
    .map((line) => /^\s*(\d+)\s/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined)
    .map(Number);
  const vms: DiscoveredVm[] = vmids.map((vmid) => {
    const addresses = agentAddresses(s.get(`vm ${vmid} agent`));
    return {
      vmid,
      config: parseQmConfig(s.get(`vm ${vmid} config`) ?? ""),
      ...(addresses ? { agentAddresses: addresses } : {}),
    };
  });
  const txg = (s.get("txg") ?? "").trim();
  return {
    ...host,
    vms,
    storage: parseStorageCfg(s.get("storage") ?? ""),
    ...(/^\d+$/.test(txg) ? { txgTimeout: Number(txg) } : {}),
  };
}

/** What a server's API says of every node. */
export const API_NODES_SCRIPT = "k3s kubectl get nodes -o json\n";

const SERVER_ROLES = [
  "node-role.kubernetes.io/control-plane",
  "node-role.kubernetes.io/master",
  "node-role.kubernetes.io/etcd",
];

const NodeList = z.object({
  items: z.array(
    z.object({
      metadata: z.object({ name: z.string(), labels: z.record(z.string(), z.string()).optional() }),
      status: z.object({
        addresses: z.array(z.object({ type: z.string(), address: z.string() })).optional(),
        nodeInfo: z.object({ kubeletVersion: z.string() }),
      }),
    }),
  ),
});

/** `kubectl get nodes -o json`: each node's name, role (K3s labels a server's Node with the
 * control-plane, master and, with etcd, etcd roles: pkg/etcd/metadata_controller.go), InternalIP
 * and kubelet version. Throws, naming the field, on anything else. */
export function parseApiNodes(json: string): Omit<DiscoveredNode, "guest">[] {
  const parsed = NodeList.safeParse(JSON.parse(json));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `kubectl get nodes: unexpected answer at ${issue.path.join(".")}: ${issue.message}`,
    );
  }
  return parsed.data.items.map((item) => {
    const labels = item.metadata.labels ?? {};
    const internal = item.status.addresses?.find((a) => a.type === "InternalIP")?.address;
    return {
      name: item.metadata.name,
      role: SERVER_ROLES.some((r) => r in labels) ? ("server" as const) : ("agent" as const),
      internalIp: internal ?? "",
      kubeletVersion: item.status.nodeInfo.kubeletVersion,
    };
  });
}

/** The node probe (what K3s runs with, its sysctl file) and the MAC of every interface but lo. */
export function renderGuestDiscovery(isServer: boolean): string {
  return [
    renderNodeProbe([], isServer).trimEnd(),
    `${mark("macs")}; for i in /sys/class/net/*; do [ "\${i##*/}" = lo ] || cat "$i/address"; done 2>/dev/null || true`,
    `${mark("block-mounts")}; { ${BLOCK_MOUNTS_SCRIPT}\n} || true`,
    "",
  ].join("\n");
}

/** `key = value` lines of a sysctl.d file (`sysctl.d(5)`), comments skipped. */
export function parseSysctlFile(text: string): Record<string, string> {
  const entries: [string, string][] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*-?([^#;=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) entries.push([m[1], m[2]]);
  }
  return Object.fromEntries(entries);
}

export function parseGuestDiscovery(
  stdout: string,
  guest: Pick<DiscoveredGuest, "address" | "hostKey">,
): DiscoveredGuest {
  const own = parseNodeProbe(stdout);
  const macs = (splitSections(stdout).get("macs") ?? "")
    .split("\n")
    .map((l) => l.trim().toLowerCase())
    .filter((l) => /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(l));
  const k3sConfig = k3sConfigAsRun(own);
  const dataDir =
    typeof k3sConfig["data-dir"] === "string" ? k3sConfig["data-dir"] : DEFAULT_DATA_DIR;
  const dataDisk = dataDiskOf(
    parseBlockMounts(splitSections(stdout).get("block-mounts") ?? ""),
    dataDir,
  );
  return {
    ...guest,
    macs,
    k3sConfig,
    ...(dataDisk ? { dataDisk } : {}),
    ...(own.sysctlFile.trim() !== "" ? { sysctl: parseSysctlFile(own.sysctlFile) } : {}),
  };
}
