set -eu
WHO='k3s-agent-1'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: restart; desired state 0123456789abcdef
# The unit's own last words, for the failure message.
why() { { systemctl status k3s-agent 2>&1 | sed -n 's/^ *Active: //p'; journalctl -u k3s-agent -n 3 --no-pager -o cat 2>/dev/null; } | tr '\n' ' '; }
await_ready() {
  begin=$(date +%s); next=15; down=0; looped=''
  while :; do
    props=$(systemctl show -p ActiveState,SubState,ActiveEnterTimestampMonotonic k3s-agent)
    state=$(printf '%s\n' "$props" | sed -n 's/^ActiveState=//p')
    sub=$(printf '%s\n' "$props" | sed -n 's/^SubState=//p')
    entered=$(printf '%s\n' "$props" | sed -n 's/^ActiveEnterTimestampMonotonic=//p')
    if [ "$state" = active ] && [ "$entered" != "$1" ]; then
      say "k3s-agent is active (READY) after $(( $(date +%s) - begin ))s"
      return 0
    fi
    case "$state" in failed|inactive) down=$((down + 1)) ;; *) down=0 ;; esac
    [ "$sub" != auto-restart ] || looped=yes
    [ "$down" -lt 3 ] || fail "k3s-agent did not start (ActiveState=$state SubState=$sub): $(why)"
    elapsed=$(( $(date +%s) - begin ))
    [ "$elapsed" -lt 120 ] || [ -z "$looped" ] || fail "k3s-agent did not signal READY within 120s: it keeps exiting and systemd starts it again (Restart=always; SubState=auto-restart seen, now $state/$sub): $(why)"
    [ "$elapsed" -lt 120 ] || fail "k3s-agent did not signal READY within 120s (ActiveState=$state SubState=$sub): an agent once its server answers; its start job stays queued"
    if [ "$elapsed" -ge "$next" ]; then say "waiting for k3s-agent to signal READY (${elapsed}s): ActiveState=$state SubState=$sub"; next=$((elapsed + 15)); fi
    sleep 2
  done
}
snapshot=$(systemctl show -p ActiveState,ActiveEnterTimestampMonotonic k3s-agent)
now_state=$(printf '%s\n' "$snapshot" | sed -n 's/^ActiveState=//p')
before=$(printf '%s\n' "$snapshot" | sed -n 's/^ActiveEnterTimestampMonotonic=//p')
if [ "$now_state" != active ]; then
  say "k3s-agent is not running ($now_state): starting it"
  systemctl start --no-block k3s-agent || fail "systemctl start k3s-agent failed: $(why)"
  await_ready "$before"
  rm -f /etc/rancher/k3s/k3s-homelab-started-with.yaml
  exit 0
fi
since=$(systemctl show --timestamp=unix -p ActiveEnterTimestamp --value k3s-agent 2>/dev/null) || since=''
case "$since" in
  @[0-9]*) started=${since#@} ;;
  *) since=$(TZ=UTC systemctl show -p ActiveEnterTimestamp --value k3s-agent)
     started=$(TZ=UTC date -d "$since" +%s) || fail "cannot read when k3s-agent started ($since)" ;;
esac
newest=$(for f in "$(command -v k3s)" /etc/rancher/k3s/config.yaml /etc/rancher/k3s/token /etc/rancher/k3s/agent-token; do [ ! -e "$f" ] || stat -c %Y "$f"; done | sort -n | tail -n 1)
if [ "$newest" -ge "$started" ]; then
  say "restarting k3s-agent: its binary or config changed after it started ($(date -u -d "@$started" "+%Y-%m-%d %H:%M:%S UTC"))"
  before=$(systemctl show -p ActiveEnterTimestampMonotonic --value k3s-agent)
  systemctl restart --no-block k3s-agent || fail "systemctl restart k3s-agent failed: $(why)"
  await_ready "$before"
  echo "record restarted k3s-agent"
  rm -f /etc/rancher/k3s/k3s-homelab-started-with.yaml
else
  say "k3s-agent already runs the current binary and config"
fi
