/** Where K3s keeps etcd's certificates (k3s-io/k3s pkg/daemons/control/deps/deps.go). */
export const ETCD_TLS_DIR = "/var/lib/rancher/k3s/server/tls/etcd";

/**
 * Shell functions reading etcd only where real K3s serves it (pkg/etcd/etcd.go):
 * - `etcd_api PATH`: POST `{}` to etcd's JSON gateway, which K3s binds on loopback port 2382 only
 *   (`listenClientHTTPURLs`; 2379 speaks gRPC only and answers JSON with HTTP 415), over TLS with
 *   K3s's client certificate;
 * - `etcd_local PATH`: this member's `/health` or `/metrics` on loopback port 2381
 *   (`listenMetricsURLs`), plain http.
 * Both try 127.0.0.1, then [::1], where K3s binds them when the service CIDR is IPv6
 * (`Control.Loopback`).
 */
export const ETCD_FUNCTIONS = [
  `T=${ETCD_TLS_DIR}`,
  'etcd_api() { for h in 127.0.0.1 \'[::1]\'; do curl -sf --max-time 5 --cacert "$T/server-ca.crt" --cert "$T/client.crt" --key "$T/client.key" -X POST -d \'{}\' "https://$h:2382/v3/$1" 2>/dev/null && return 0; done; return 1; }',
  "etcd_local() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 3 \"http://$h:2381/$1\" 2>/dev/null && return 0; done; return 1; }",
].join("\n");
