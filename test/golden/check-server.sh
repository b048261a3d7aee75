set -eu
WHO='k3s-vm-fawn'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: cluster check; desired state 0123456789abcdef
T=/var/lib/rancher/k3s/server/tls/etcd
if [ -f "$T/client.crt" ]; then CURL="curl -s --max-time 5 --cacert $T/server-ca.crt --cert $T/client.crt --key $T/client.key"; ETCD="$CURL https://127.0.0.1:2379"
else CURL="curl -s --max-time 5"; ETCD="$CURL http://127.0.0.1:2379"; fi
members=$($ETCD/v3/cluster/member/list -X POST -d '{}') || fail "etcd's member list does not answer"
total=$(printf '%s' "$members" | grep -o '"ID":' | wc -l)
urls=$(printf '%s' "$members" | grep -o '"clientURLs":\[[^]]*\]' | grep -o '"[a-z]*://[^"]*"' | tr -d '"')
bad=""; healthy=0
for u in $urls; do
  if $CURL "$u/health" 2>/dev/null | grep -q '"health":"true"'; then healthy=$((healthy + 1)); else bad="$bad $u"; fi
done
[ "$healthy" -eq "$total" ] || fail "only $healthy of $total etcd members are healthy (unhealthy or never started:${bad:- a member without client URLs}); refusing to restart $WHO"
leader=$($ETCD/v3/maintenance/status -X POST -d '{}' | grep -o '"leader":"[0-9]*"' | grep -o '[0-9][0-9]*' || true)
[ -n "$leader" ] && [ "$leader" != 0 ] || fail "etcd has no leader; refusing to restart $WHO"
notready=$(k3s kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -v '=True$' || true)
[ -z "$notready" ] || fail "nodes not Ready: $(echo $notready); refusing to restart $WHO"
say "cluster healthy: $healthy/$total etcd members, leader $leader, all nodes Ready"
