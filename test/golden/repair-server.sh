set -eu
WHO='k3s-vm-fawn'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: repair; desired state 0123456789abcdef
# at preflight: its etcd member is not healthy
why() { { systemctl status k3s 2>&1 | sed -n 's/^ *Active: //p'; journalctl -u k3s -n 3 --no-pager -o cat 2>/dev/null; } | tr '\n' ' '; }
await_ready() {
  begin=$(date +%s); next=15; down=0; looped=''
  while :; do
    props=$(systemctl show -p ActiveState,SubState,ActiveEnterTimestampMonotonic k3s)
    state=$(printf '%s\n' "$props" | sed -n 's/^ActiveState=//p')
    sub=$(printf '%s\n' "$props" | sed -n 's/^SubState=//p')
    entered=$(printf '%s\n' "$props" | sed -n 's/^ActiveEnterTimestampMonotonic=//p')
    if [ "$state" = active ] && [ "$entered" != "$1" ]; then
      say "k3s is active (READY) after $(( $(date +%s) - begin ))s"
      return 0
    fi
    case "$state" in failed|inactive) down=$((down + 1)) ;; *) down=0 ;; esac
    [ "$sub" != auto-restart ] || looped=yes
    [ "$down" -lt 3 ] || fail "k3s did not start (ActiveState=$state SubState=$sub): $(why)"
    elapsed=$(( $(date +%s) - begin ))
    [ "$elapsed" -lt 600 ] || [ -z "$looped" ] || fail "k3s did not signal READY within 600s: it keeps exiting and systemd starts it again (Restart=always; SubState=auto-restart seen, now $state/$sub): $(why)"
    [ "$elapsed" -lt 600 ] || fail "k3s did not signal READY within 600s (ActiveState=$state SubState=$sub): a server sends it once etcd has quorum; its start job stays queued"
    if [ "$elapsed" -ge "$next" ]; then say "waiting for k3s to signal READY (${elapsed}s): ActiveState=$state SubState=$sub"; next=$((elapsed + 15)); fi
    sleep 2
  done
}
T=/var/lib/rancher/k3s/server/tls/etcd
etcd_api() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 5 --cacert "$T/server-ca.crt" --cert "$T/client.crt" --key "$T/client.key" -X POST -d '{}' "https://$h:2382/v3/$1" 2>/dev/null && return 0; done; return 1; }
etcd_local() { for h in 127.0.0.1 '[::1]'; do curl -sf --max-time 3 "http://$h:2381/$1" 2>/dev/null && return 0; done; return 1; }
snapshot=$(systemctl show -p ActiveState,ActiveEnterTimestampMonotonic k3s)
now_state=$(printf '%s\n' "$snapshot" | sed -n 's/^ActiveState=//p')
before=$(printf '%s\n' "$snapshot" | sed -n 's/^ActiveEnterTimestampMonotonic=//p')
if [ "$now_state" != active ]; then
  say "repair: k3s is not running ($now_state): starting it"
  systemctl start --no-block k3s || fail "repair: systemctl start k3s failed: $(why)"
  await_ready "$before"
  echo "record repaired started k3s"
elif ! etcd_local health | grep -q '"health":"true"'; then
  say "repair: its etcd member is not healthy: restarting k3s"
  before=$(systemctl show -p ActiveEnterTimestampMonotonic --value k3s)
  systemctl restart --no-block k3s || fail "repair: systemctl restart k3s failed: $(why)"
  await_ready "$before"
  echo "record repaired restarted k3s"
else
  # Preflight found it unhealthy in a way only the API shows (NotReady, unknown node).
  say "repair: restarting k3s, which runs but was unhealthy at preflight (its etcd member is not healthy)"
  before=$(systemctl show -p ActiveEnterTimestampMonotonic --value k3s)
  systemctl restart --no-block k3s || fail "repair: systemctl restart k3s failed: $(why)"
  await_ready "$before"
  echo "record repaired restarted k3s"
fi
