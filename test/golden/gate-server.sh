set -eu
WHO='k3s-vm-fawn'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: gate; desired state 0123456789abcdef
NODE_NAME='k3s-vm-fawn'
WANT=v1.33.6+k3s1
begin=$(date +%s)
last=''
next_report=0
T=/var/lib/rancher/k3s/server/tls/etcd
etcd_api() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 5 --cacert "$T/server-ca.crt" --cert "$T/client.crt" --key "$T/client.key" -X POST -d '{}' "https://$h:2382/v3/$1" 2>/dev/null && return 0; done; return 1; }
etcd_local() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 3 "http://$h:2381/$1" 2>/dev/null && return 0; done; return 1; }
why() { { systemctl status k3s 2>&1 | sed -n 's/^ *Active: //p'; journalctl -u k3s -n 3 --no-pager -o cat 2>/dev/null; } | tr '\n' ' '; }
while :; do
  seen=$(k3s kubectl get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status}' 2>&1) || seen="API not answering: $(echo "$seen" | tail -n 1)"
  version=${seen%% *}; ready=${seen#* }
  if etcd_local health | grep -q '"health":"true"'; then etcd=healthy; else etcd=unhealthy; fi
  if etcd_local metrics | grep -q '^etcd_server_has_leader 1'; then leader=yes; else leader=no; fi
  last="version=$version ready=$ready etcd=$etcd leader=$leader"
  if [ "$version" = "$WANT" ] && [ "$ready" = True ] && [ "$etcd" != unhealthy ] && [ "$leader" != no ]; then
    say "Ready at $WANT after $(( $(date +%s) - begin ))s (etcd member $etcd)"
    echo "record gate_seconds $(( $(date +%s) - begin ))"; echo "record at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    break
  fi
  elapsed=$(( $(date +%s) - begin ))
  [ "$elapsed" -lt 600 ] || fail "not Ready at $WANT after 600s; last seen: $last; k3s: $(why)"
  if [ "$elapsed" -ge "$next_report" ]; then say "waiting for $NODE_NAME (${elapsed}s): $last"; next_report=$(( elapsed + 15 )); fi
  sleep 2
done
ours=$(k3s kubectl get node "$NODE_NAME" -o jsonpath='{.metadata.annotations.k3s-homelab/cordoned}' 2>/dev/null) || ours=''
if [ -n "$ours" ]; then
  k3s kubectl uncordon "$NODE_NAME" >/dev/null || fail "kubectl uncordon $NODE_NAME failed"
  k3s kubectl annotate node "$NODE_NAME" k3s-homelab/cordoned- >/dev/null || warn "could not remove the k3s-homelab/cordoned annotation"
  say "uncordoned $NODE_NAME"; echo "record uncordoned"
fi
