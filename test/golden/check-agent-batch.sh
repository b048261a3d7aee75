set -eu
WHO='k3s-agent-1'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: cluster check; desired state 0123456789abcdef
T=/var/lib/rancher/k3s/server/tls/etcd
etcd_api() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 5 --cacert "$T/server-ca.crt" --cert "$T/client.crt" --key "$T/client.key" -X POST -d '{}' "https://$h:2382/v3/$1" 2>/dev/null && return 0; done; return 1; }
etcd_local() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 3 "http://$h:2381/$1" 2>/dev/null && return 0; done; return 1; }
begin=$(date +%s); next_report=15
while :; do
  members=$(etcd_api cluster/member/list) || fail "etcd's member list does not answer on 127.0.0.1:2382 (K3s's client certificate in $T)"
  self=$(etcd_api maintenance/status) || fail "etcd's status does not answer on 127.0.0.1:2382"
  leader=$(printf '%s' "$self" | grep -o '"leader":"[0-9]*"' | grep -o '[0-9][0-9]*' || true)
  me=$(printf '%s' "$self" | grep -o '"member_id":"[0-9]*"' | grep -o '[0-9][0-9]*' || true)
  conds=$(k3s kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="EtcdIsVoter")].status} {.status.conditions[?(@.type=="EtcdIsVoter")].reason}{"\n"}{end}') || fail "the API does not answer: $(echo "$conds" | tail -n 1)"
  bad=""; voters=0; healthy=0
  list=$(printf '%s' "$members" | sed 's/{"ID"/\n{"ID"/g' | grep '^{"ID"')
  while IFS= read -r m; do
    [ -n "$m" ] || continue
    id=$(printf '%s' "$m" | sed -n 's/^{"ID":"\([0-9]*\)".*/\1/p')
    name=$(printf '%s' "$m" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
    who=${name:-"unstarted member $id"}
    if printf '%s' "$m" | grep -q '"isLearner":true'; then bad="$bad; $who is a learner (K3s has not promoted it to a voting member yet)"; continue; fi
    voters=$((voters + 1))
    if [ "$id" = "$me" ]; then
      if etcd_local health | grep -q '"health":"true"'; then healthy=$((healthy + 1)); else bad="$bad; $who (this server) does not answer healthy on 127.0.0.1:2381/health"; fi
      continue
    fi
    node=${name%-*}
    line=$(printf '%s\n' "$conds" | grep "^$node " || true)
    st=$(printf '%s' "$line" | cut -d ' ' -f 2); why=$(printf '%s' "$line" | cut -d ' ' -f 3)
    if [ -z "$name" ] || [ -z "$line" ]; then bad="$bad; $who has no Node${name:+ \`$node\`} (a stale member still votes)"
    elif [ "$st" = True ]; then healthy=$((healthy + 1))
    else bad="$bad; $who: EtcdIsVoter=${st:-none} (${why:-no condition yet})"; fi
  done <<EOF
$list
EOF
  [ -n "$leader" ] && [ "$leader" != 0 ] || bad="$bad; etcd has no leader"
  [ -n "$bad" ] || break
  elapsed=$(( $(date +%s) - begin ))
  [ "$elapsed" -lt 45 ] || fail "etcd not healthy after ${elapsed}s: ${bad#; }; refusing to restart $WHO"
  if [ "$elapsed" -ge "$next_report" ]; then say "waiting for etcd (${elapsed}s): ${bad#; }"; next_report=$(( elapsed + 15 )); fi
  sleep 3
done
ready=$(k3s kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}') || fail "the API does not answer the node list (kubectl's error above)"
notready=$(printf '%s\n' "$ready" | grep -v '=True$' | grep . || true)
# Its batch-mates (cluster.roll.agentBatch) roll beside it: they alone may be down meanwhile.
MATES=' agent-2 agent-3.lan '
mates_down=$(printf '%s\n' "$notready" | awk -F= -v m="$MATES" '$1 != "" && index(m, " " $1 " ")' | tr '\n' ' ')
mates_down=${mates_down% }
notready=$(printf '%s\n' "$notready" | awk -F= -v m="$MATES" '$1 != "" && !index(m, " " $1 " ")')
[ -z "$notready" ] || fail "nodes not Ready: $(echo $notready); refusing to restart $WHO"
say "cluster healthy: $healthy/$voters voting etcd members, leader $leader, all nodes Ready but batch-mates rolling beside $WHO (agent-2, agent-3.lan; not Ready now: ${mates_down:-none})"
