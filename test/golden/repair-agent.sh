set -eu
WHO='k3s-agent-1'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: repair; desired state 0123456789abcdef
# at preflight: healthy
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
    [ "$elapsed" -lt 600 ] || [ -z "$looped" ] || fail "k3s-agent did not signal READY within 600s: it keeps exiting and systemd starts it again (Restart=always; SubState=auto-restart seen, now $state/$sub): $(why)"
    [ "$elapsed" -lt 600 ] || fail "k3s-agent did not signal READY within 600s (ActiveState=$state SubState=$sub): an agent once its server answers; its start job stays queued"
    if [ "$elapsed" -ge "$next" ]; then say "waiting for k3s-agent to signal READY (${elapsed}s): ActiveState=$state SubState=$sub"; next=$((elapsed + 15)); fi
    sleep 2
  done
}
snapshot=$(systemctl show -p ActiveState,ActiveEnterTimestampMonotonic k3s-agent)
now_state=$(printf '%s\n' "$snapshot" | sed -n 's/^ActiveState=//p')
before=$(printf '%s\n' "$snapshot" | sed -n 's/^ActiveEnterTimestampMonotonic=//p')
if [ "$now_state" != active ]; then
  say "repair: k3s-agent is not running ($now_state): starting it"
  systemctl start --no-block k3s-agent || fail "repair: systemctl start k3s-agent failed: $(why)"
  await_ready "$before"
  echo "record repaired started k3s-agent"
else
  say "repair: k3s-agent runs: left alone"
fi
