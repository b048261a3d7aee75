set -eu
WHO='k3s-vm-fawn'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: restart; desired state 0123456789abcdef
# The unit's own last words, for the failure message.
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
snapshot=$(systemctl show -p ActiveState,ActiveEnterTimestampMonotonic k3s)
now_state=$(printf '%s\n' "$snapshot" | sed -n 's/^ActiveState=//p')
before=$(printf '%s\n' "$snapshot" | sed -n 's/^ActiveEnterTimestampMonotonic=//p')
if [ "$now_state" != active ]; then
  say "k3s is not running ($now_state): starting it"
  systemctl start --no-block k3s || fail "systemctl start k3s failed: $(why)"
  await_ready "$before"
  rm -f /etc/rancher/k3s/k3s-homelab-started-with.yaml
  exit 0
fi
since=$(systemctl show --timestamp=unix -p ActiveEnterTimestamp --value k3s 2>/dev/null) || since=''
case "$since" in
  @[0-9]*) started=${since#@} ;;
  *) since=$(TZ=UTC systemctl show -p ActiveEnterTimestamp --value k3s)
     started=$(TZ=UTC date -d "$since" +%s) || fail "cannot read when k3s started ($since)" ;;
esac
newest=$(for f in "$(command -v k3s)" /etc/rancher/k3s/config.yaml /etc/rancher/k3s/token /etc/rancher/k3s/agent-token; do [ ! -e "$f" ] || stat -c %Y "$f"; done | sort -n | tail -n 1)
# The same settings in the program's form (preflight): only a new binary restarts K3s.
if [ -f /etc/rancher/k3s/k3s-homelab-started-with.yaml ] && [ "$(stat -c %Y /etc/rancher/k3s/k3s-homelab-started-with.yaml)" -ge "$started" ] && [ "$(sha256sum < /etc/rancher/k3s/k3s-homelab-started-with.yaml | cut -c1-64)" = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ] && [ "$(cat /etc/rancher/k3s/config.yaml 2>/dev/null | sha256sum | cut -c1-64)" = bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb ]; then
  newest=$(stat -c %Y "$(command -v k3s)")
fi
if [ "$newest" -ge "$started" ]; then
  say "restarting k3s: its binary or config changed after it started ($(date -u -d "@$started" "+%Y-%m-%d %H:%M:%S UTC"))"
  before=$(systemctl show -p ActiveEnterTimestampMonotonic --value k3s)
  systemctl restart --no-block k3s || fail "systemctl restart k3s failed: $(why)"
  await_ready "$before"
  echo "record restarted k3s"
  rm -f /etc/rancher/k3s/k3s-homelab-started-with.yaml
elif [ -f /etc/rancher/k3s/k3s-homelab-started-with.yaml ]; then
  say "k3s keeps running: /etc/rancher/k3s/config.yaml holds the settings it started with, in the program's form"
else
  say "k3s already runs the current binary and config"
fi
