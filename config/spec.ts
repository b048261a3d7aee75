import { DiskConfig, RollConfig } from "./schema";

/** One Proxmox host, validated, defaults applied. */
export interface HostSpec {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly hostKey: string;
}

export type NodeRole = "server" | "agent";

/** One K3s node (a VM), validated, defaults applied. */
export interface NodeSpec {
  readonly name: string;
  readonly host: string;
  readonly vmid: number;
  readonly disk: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly role: NodeRole;
  readonly hostKey: string;
  readonly nodeName: string;
  /** Node-local config.yaml keys. */
  readonly config: Readonly<Record<string, K3sConfigValue>>;
  /** The version this node must run: its override, else the cluster's. */
  readonly k3sVersion: string;
  readonly controllerChange: boolean;
  /** The node opted in to a change of node-ip, node-name, data-dir or advertise-address. */
  readonly allowIdentityChange: boolean;
  /** The node's `qm reboot` may apply the VM's other pending changes too. */
  readonly applyPendingChanges: boolean;
  /** The guest's sysctl keys: the cluster's, with this node's own over them. */
  readonly sysctl: Readonly<Record<string, string>>;
}

export type K3sConfigValue = string | number | boolean | readonly string[];

/** Everything the components need, validated; components never read pulumi.Config. */
export interface ClusterSpec {
  readonly k3sVersion: string;
  readonly serverConfig: Readonly<Record<string, K3sConfigValue>>;
  readonly registrationAddress: string;
  readonly sysctl: Readonly<Record<string, string>>;
  readonly disk: DiskConfig;
  readonly zfsTxgTimeout: number;
  readonly installerUrl: string;
  readonly gateTimeoutSeconds: number;
  readonly roll: RollConfig;
  /** Proxmox hosts in the order declared. */
  readonly hosts: readonly HostSpec[];
  /** Nodes in the order listed in the stack file. */
  readonly nodes: readonly NodeSpec[];
}

/** The secrets the program needs, read with `requireSecret` and kept as secret Outputs. */
export interface ClusterSecrets<T> {
  readonly sshPrivateKey: T;
  readonly token: T;
  /** Agents join with this when set, else with `token`. */
  readonly agentToken?: T;
}
