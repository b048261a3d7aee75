import { z } from "zod";
import { AgentBatch } from "./agentBatch";
import { WAL_FSYNC_P99_FAIL_MS } from "./etcdThresholds";
import { K3S_VERSION_PATTERN } from "./version";

/** Names become Pulumi resource names and Kubernetes node names: an RFC 1123 label that starts
 * with a letter (a numeric key would also lose its place in the roll order). */
const NAME_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const NAME_RULE =
  "must start with a letter and hold only lower-case letters, digits and `-` (at most 63)";

export const ResourceName = z.string().max(63, NAME_RULE).regex(NAME_PATTERN, NAME_RULE);

const K3sVersionText = z
  .string()
  .regex(K3S_VERSION_PATTERN, "must look like `v1.33.6+k3s1` (the `+k3sN` revision is required)");

const HostKey = z
  .string()
  .regex(
    /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( \S.*)?$/,
    "must be one public host key line such as `ssh-ed25519 AAAA...` (from `ssh-keyscan -t ed25519 HOST`)",
  );

const Address = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$/, "must be a host name or IP address");

const SshUser = z.string().regex(/^[a-z_][a-z0-9_-]*$/, "must be a plain user name");

const Port = z.number().int().min(1).max(65535);

const SYSCTL_KEY = /^[a-z0-9_]+(\.[a-z0-9_-]+)+$/;
const SYSCTL_VALUE = /^[A-Za-z0-9._:/-]+( [A-Za-z0-9._:/-]+)*$/;

/** A sysctl value from YAML: numbers are written as numbers, text kept as text. A YAML number
 * above 2^53 (fs.file-max's 9223372036854775807) has already lost digits when zod sees it. */
const SysctlValue = z
  .union([
    z.number().refine((n) => !Number.isInteger(n) || Number.isSafeInteger(n), {
      message: "is a YAML number above 2^53, which loses its last digits; quote it",
    }),
    z.string(),
  ])
  .transform((value) => String(value))
  .refine((value) => SYSCTL_VALUE.test(value), {
    message: "must be a number or words separated by single spaces",
  });

const SysctlMap = z.record(
  z.string().regex(SYSCTL_KEY, "sysctl keys look like `vm.swappiness`"),
  SysctlValue,
);

/** K3s config.yaml keys and their values, as K3s reads them. */
const K3sConfigMap = z.record(
  z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "K3s config keys are flag names such as `disable`"),
  z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]),
);

export const DEFAULT_SYSCTL: Readonly<Record<string, string>> = {
  "vm.swappiness": "10",
  "vm.dirty_ratio": "5",
  "vm.dirty_background_ratio": "3",
};

export const DEFAULT_INSTALLER_URL = "https://get.k3s.io";

export const DiskConfig = z.strictObject({
  // Cache mode of the node's etcd disk; writeback acknowledges from the host page cache.
  cache: z
    .enum(["none", "writethrough", "writeback", "directsync"], {
      error:
        "must be one of none, writethrough, writeback, directsync (`unsafe` ignores guest flushes: etcd loses data when the host crashes)",
    })
    .default("writeback"),
  // A dedicated I/O thread for the disk; needs virtio-blk or scsihw virtio-scsi-single.
  iothread: z.boolean().default(true),
});
export type DiskConfig = z.infer<typeof DiskConfig>;

export const RollConfig = z.strictObject({
  // Roll a 2-server cluster although any server restart loses etcd quorum meanwhile.
  allowTwoServers: z.boolean().default(false),
  // Let agents skip a minor release (servers never may).
  allowAgentMinorSkip: z.boolean().default(false),
  // Repair an unhealthy cluster: restart only the members that are down or unhealthy, one at a
  // time, each gated, before the roll (which then checks health again as usual).
  repair: z.boolean().default(false),
  // Cordon and drain a node (kubectl drain --ignore-daemonsets --delete-emptydir-data) before
  // its restart, and uncordon it once its gate passes. Only when a restart really follows.
  drain: z.boolean().default(false),
  // Longest wait, in seconds, for a drain; on timeout the node is uncordoned and up fails.
  drainTimeoutSeconds: z.number().int().min(10).max(7200).default(300),
  // How many of this tool's pre-change etcd snapshots each server keeps (K3s never prunes
  // snapshots saved with a name); older ones are deleted after a new one is saved.
  keepSnapshots: z.number().int().min(1).max(100).default(5),
  // Before a server's roll, every other etcd member's WAL fsync p99 over a short window must be
  // at most this (ms; the doctor's fail threshold), or the roll waits, then stops: a slow quorum
  // must not lose a member too. etcd's histogram has no bound above 8192 ms.
  maxFsyncP99Ms: z.number().int().min(1).max(8192).default(WAL_FSYNC_P99_FAIL_MS),
  // How many agents roll at once (they hold no etcd member, so servers still go one at a time):
  // a count or a share of the agents such as "20%" (rounded up); 1 rolls them one by one.
  agentBatch: AgentBatch.default(1),
});
export type RollConfig = z.infer<typeof RollConfig>;

export const ClusterConfig = z.strictObject({
  // The K3s release every node runs unless a node overrides it during a staged upgrade.
  k3sVersion: K3sVersionText,
  // Keys every server must share, written into each server's config.yaml.
  serverConfig: K3sConfigMap.default({}),
  // The URL joining nodes use to reach a server (a VIP or DNS name), e.g. https://10.0.0.21:6443.
  registrationAddress: z
    .string()
    .regex(
      /^https:\/\/[A-Za-z0-9.:[\]-]+(:\d+)?$/,
      "must be an https URL such as `https://10.0.0.21:6443`",
    ),
  // Guest sysctl keys written to /etc/sysctl.d/99-etcd.conf; default the post's three.
  sysctl: SysctlMap.default({ ...DEFAULT_SYSCTL }),
  // Proxmox disk options for each node's etcd disk.
  disk: DiskConfig.default({ cache: "writeback", iothread: true }),
  // Seconds between ZFS transaction group commits on every Proxmox host (the post's tweak 4).
  zfsTxgTimeout: z.number().int().min(1).max(300).default(3),
  // How to log in to guests and hosts.
  ssh: z.strictObject({ user: SshUser.default("root") }).default({ user: "root" }),
  // Where the K3s install script comes from (a mirror for air-gapped labs).
  installerUrl: z
    .string()
    .regex(/^https?:\/\/\S+$/, "must be an http(s) URL")
    .default(DEFAULT_INSTALLER_URL),
  // Longest wait, in seconds, for a restarted node to come back Ready at the expected version,
  // and for a slow etcd member's WAL fsync to recover before a server's roll.
  gateTimeoutSeconds: z.number().int().min(30).max(7200).default(600),
  // The order nodes roll in (servers still go before agents). Pulumi does not keep the order of
  // config keys, so without it nodes roll in alphabetical order.
  rollOrder: z.array(z.string()).optional(),
  // Explicit overrides of the roll's safety refusals; all off by default.
  roll: RollConfig.default({
    allowTwoServers: false,
    allowAgentMinorSkip: false,
    repair: false,
    drain: false,
    drainTimeoutSeconds: 300,
    keepSnapshots: 5,
    maxFsyncP99Ms: WAL_FSYNC_P99_FAIL_MS,
    agentBatch: 1,
  }),
});
export type ClusterConfig = z.infer<typeof ClusterConfig>;

export const HostConfig = z.strictObject({
  // How to reach the Proxmox host over SSH.
  address: Address,
  // The host's SSH public key, pinned so a spoofed host is refused.
  hostKey: HostKey,
  // SSH port, default 22.
  port: Port.optional(),
  // SSH user, default the cluster's `ssh.user`.
  user: SshUser.optional(),
});
export type HostConfig = z.infer<typeof HostConfig>;

export const NodeConfig = z.strictObject({
  // The Proxmox host (a key of `hosts`) this VM runs on.
  host: z.string(),
  // The VM's id on that host.
  vmid: z.number().int().min(100).max(999999999),
  // The VM disk holding etcd's data, as Proxmox names it (scsi0, virtio0, ...).
  disk: z
    .string()
    .regex(
      /^(scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|sata[0-5]|ide[0-3])$/,
      "must be a Proxmox disk interface such as `scsi0`, `virtio0`, `sata0` or `ide0`",
    ),
  // How to reach the guest over SSH.
  address: Address,
  // server (runs etcd) or agent.
  role: z.enum(["server", "agent"], { error: "must be `server` or `agent`" }),
  // The guest's SSH public key, pinned.
  hostKey: HostKey,
  // SSH port, default 22.
  port: Port.optional(),
  // The Kubernetes node name, default the key.
  nodeName: z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a Kubernetes node name (RFC 1123)")
    .optional(),
  // Node-local K3s keys (node-ip, node-taint, tls-san...).
  config: K3sConfigMap.optional(),
  // A different K3s version for this node during a staged upgrade.
  k3sVersion: K3sVersionText.optional(),
  // sysctl keys for this guest only, over `cluster.sysctl`.
  sysctl: SysctlMap.optional(),
  // Opt in to switching the VM's SCSI controller to virtio-scsi-single (see README risks).
  controllerChange: z.boolean().optional(),
  // Let the roll change this server's node-ip, node-name, data-dir or advertise-address while it
  // is an etcd member (its member may not rejoin as the same member; see README risks).
  allowIdentityChange: z.boolean().optional(),
  // Let this node's `qm reboot` apply the VM's other pending changes too (default: refuse).
  applyPendingChanges: z.boolean().optional(),
});
export type NodeConfig = z.infer<typeof NodeConfig>;

/** The whole non-secret stack config, as read from Pulumi.<stack>.yaml. */
export const StackConfig = z.strictObject({
  cluster: ClusterConfig,
  hosts: z.record(ResourceName, HostConfig),
  nodes: z.record(ResourceName, NodeConfig),
});
export type StackConfig = z.infer<typeof StackConfig>;
