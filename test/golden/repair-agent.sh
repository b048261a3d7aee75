set -eu
WHO='k3s-agent-1'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: repair; desired state 0123456789abcdef
# at preflight: healthy
why() { { systemctl status k3s-agent 2>&1 | sed -n 's/^ *Active: //p'; journalctl -u k3s-agent -n 3 --no-pager -o cat 2>/dev/null; } | tr '\n' ' '; }
if ! systemctl is-active -q k3s-agent; then
  say "repair: k3s-agent is not running: starting it"
  systemctl start k3s-agent || fail "repair: systemctl start k3s-agent failed: $(why)"
  echo "record repaired started k3s-agent"
else
  say "repair: k3s-agent runs: left alone"
fi
