set -eu
WHO='k3s-vm-fawn'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: restart; desired state 0123456789abcdef
# The unit's own last words, for the failure message.
why() { { systemctl status k3s 2>&1 | sed -n 's/^ *Active: //p'; journalctl -u k3s -n 3 --no-pager -o cat 2>/dev/null; } | tr '\n' ' '; }
if ! systemctl is-active -q k3s; then
  say "k3s is not running: starting it"
  systemctl start k3s || fail "systemctl start k3s failed: $(why)"
  exit 0
fi
since=$(systemctl show -p ActiveEnterTimestamp --value k3s)
started=$(date -d "$since" +%s) || fail "cannot read when k3s started ($since)"
newest=$(for f in "$(command -v k3s)" /etc/rancher/k3s/config.yaml /etc/rancher/k3s/token /etc/rancher/k3s/agent-token; do [ ! -e "$f" ] || stat -c %Y "$f"; done | sort -n | tail -n 1)
if [ "$newest" -ge "$started" ]; then
  say "restarting k3s: its binary or config changed after it started ($since)"
  systemctl restart k3s || fail "systemctl restart k3s failed: $(why)"
  echo "record restarted k3s"
else
  say "k3s already runs the current binary and config"
fi
