import { createHash } from "crypto";
import { stringify } from "yaml";
import { K3sConfigValue } from "../config";

export const SYSCTL_FILE = "/etc/sysctl.d/99-etcd.conf";
/** Sorts after `zfs.conf`, so our option wins when that file sets the same parameter. */
export const MODPROBE_FILE = "/etc/modprobe.d/zz-k3s-homelab-zfs.conf";
export const K3S_CONFIG_FILE = "/etc/rancher/k3s/config.yaml";
export const K3S_TOKEN_FILE = "/etc/rancher/k3s/token";
/** A copy of the config.yaml K3s last started with, kept while config.yaml holds the same
 * settings in the program's form without a restart (K3s reads only config.yaml and
 * config.yaml.d/, never this file). */
export const K3S_STARTED_CONFIG_FILE = "/etc/rancher/k3s/k3s-homelab-started-with.yaml";
export const K3S_AGENT_TOKEN_FILE = "/etc/rancher/k3s/agent-token";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The header names the owning resource, so a renamed resource's delete leaves the new file. */
function header(owner: string, note: string): string {
  return `# Managed by k3s-homelab (Pulumi resource ${owner}). ${note}\n`;
}

/** /etc/sysctl.d/99-etcd.conf, keys in the order configured. */
export function renderSysctlFile(owner: string, sysctl: Readonly<Record<string, string>>): string {
  const lines = Object.entries(sysctl).map(([key, value]) => `${key} = ${value}`);
  return header(owner, "Edits are overwritten by `pulumi up`.") + lines.join("\n") + "\n";
}

/** The modprobe options file that sets zfs_txg_timeout at the next module load. */
export function renderModprobeFile(owner: string, txgTimeoutSeconds: number): string {
  return (
    header(owner, "Read when the zfs module loads.") +
    `options zfs zfs_txg_timeout=${txgTimeoutSeconds}\n`
  );
}

export interface K3sConfigInput {
  readonly role: "server" | "agent";
  readonly registrationAddress: string;
  readonly serverConfig: Readonly<Record<string, K3sConfigValue>>;
  readonly nodeConfig: Readonly<Record<string, K3sConfigValue>>;
  readonly hasAgentToken: boolean;
}

/**
 * /etc/rancher/k3s/config.yaml: everything the node needs to start, so an upgrade is only the
 * installer with a version. Must-match keys go to servers only; agents get join settings and
 * their own keys.
 */
export function renderK3sConfig(input: K3sConfigInput): string {
  // The server that initialises a new cluster (`cluster-init: true`) joins nobody: a `server:`
  // pointing at itself would make it wait for itself.
  const initialises = input.role === "server" && input.nodeConfig["cluster-init"] === true;
  const managed: Record<string, K3sConfigValue> = {
    ...(initialises ? {} : { server: input.registrationAddress }),
    "token-file": K3S_TOKEN_FILE,
  };
  if (input.role === "server" && input.hasAgentToken)
    managed["agent-token-file"] = K3S_AGENT_TOKEN_FILE;
  const shared = input.role === "server" ? sortedEntries(input.serverConfig) : {};
  const body = stringify({ ...managed, ...shared, ...sortedEntries(input.nodeConfig) });
  return (
    "# Managed by k3s-homelab (Pulumi). Applied by the gated roll: edits are overwritten.\n" + body
  );
}

function sortedEntries(
  map: Readonly<Record<string, K3sConfigValue>>,
): Record<string, K3sConfigValue> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => a.localeCompare(b)));
}
