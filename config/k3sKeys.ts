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
  "flannel-ip-masq-disable-random-fully",
  "flannel-ipv6-masq",
  "secrets-encryption",
  "secrets-encryption-provider",
  "service-cidr",
  "supervisor-metrics",
];

/** Must-match keys that cannot change on a running cluster at all. */
export const IMMUTABLE_SERVER_KEYS: readonly string[] = [
  "cluster-cidr",
  "service-cidr",
  "cluster-dns",
  "cluster-domain",
  "flannel-backend",
];

/** Keys that make a server a different etcd member or node when they change: K3s names the member
 * after the node and advertises peer URLs on its address, and a new data-dir is a new, empty member
 * (k3s-io/k3s pkg/etcd/etcd.go `setName`, `peerURL`, `dbDir`). */
export const IDENTITY_KEYS: readonly string[] = [
  "node-ip",
  "node-name",
  "data-dir",
  "advertise-address",
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

/** The `cli` tags of K3s's `CriticalControlArgs` (k3s-io/k3s `pkg/daemons/config/types.go`), the
 * settings every server of an HA cluster must share. K3s compares them when a server joins
 * (`compareConfig()`, called from `Cluster.bootstrap()` in `pkg/cluster/bootstrap.go`): a server
 * that joins while they differ fails to join ("critical configuration value mismatch between
 * servers"). Already-joined servers are not compared at start, so a one-at-a-time roll would leave
 * the cluster running with two values. `disable-service-lb` is set by `disable: [servicelb]`. */
export const CRITICAL_SERVER_KEYS: readonly string[] = [
  "cluster-cidr",
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
  "flannel-ip-masq-disable-random-fully",
  "flannel-external-ip",
  "egress-selector-mode",
  "service-cidr",
  "supervisor-metrics",
];

/** The `disable` entries that set a critical field (`DisableServiceLB`); `coredns` no longer does
 * (`NoCoreDNS` left `CriticalControlArgs`). */
export const CRITICAL_DISABLE_ENTRIES: readonly string[] = ["servicelb"];
