/** K3s server flags that must be identical on every server: K3s refuses to start otherwise, or,
 * for `disable`, deletes packaged components cluster-wide (the post's outage). */
export const MUST_MATCH_SERVER_KEYS: readonly string[] = [
  "token",
  "agent-token",
  "cluster-cidr",
  "cluster-dns",
  "cluster-domain",
  "disable",
  "disable-cloud-controller",
  "disable-helm-controller",
  "disable-network-policy",
  "egress-selector-mode",
  "embedded-registry",
  "flannel-backend",
  "flannel-external-ip",
  "flannel-ipv6-masq",
  "secrets-encryption",
  "secrets-encryption-provider",
  "service-cidr",
];

/** Must-match keys that cannot change on a running cluster at all. */
export const IMMUTABLE_SERVER_KEYS: readonly string[] = [
  "cluster-cidr",
  "service-cidr",
  "cluster-dns",
  "cluster-domain",
  "flannel-backend",
];

/** Keys this program writes itself from secrets and the cluster spec; users must not set them. */
export const MANAGED_KEYS: readonly string[] = [
  "token",
  "agent-token",
  "token-file",
  "agent-token-file",
  "server",
];

/** Keys that identify one machine: they belong in a node's `config`, never in `serverConfig`. */
export const NODE_LOCAL_KEYS: readonly string[] = [
  "node-ip",
  "node-external-ip",
  "node-name",
  "advertise-address",
  "bind-address",
];

/** Keys in K3s's CriticalControlArgs: a server whose value differs from the other servers' refuses
 * to start ("critical configuration value mismatch"), so a roll that restarts servers one at a
 * time cannot change them. `disable` counts only for its `servicelb` and `coredns` entries. */
export const CRITICAL_SERVER_KEYS: readonly string[] = [
  "cluster-cidr",
  "service-cidr",
  "cluster-dns",
  "cluster-domain",
  "disable-cloud-controller",
  "disable-helm-controller",
  "disable-network-policy",
  "secrets-encryption",
  "secrets-encryption-provider",
  "embedded-registry",
  "flannel-backend",
  "flannel-ipv6-masq",
  "flannel-external-ip",
  "egress-selector-mode",
];

/** The `disable` entries K3s treats as critical. */
export const CRITICAL_DISABLE_ENTRIES: readonly string[] = ["servicelb", "coredns"];
