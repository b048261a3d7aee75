set -eu
WHO='k3s-vm-fawn'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: repair; desired state 0123456789abcdef
# at preflight: its etcd member is not healthy
why() { { systemctl status k3s 2>&1 | sed -n 's/^ *Active: //p'; journalctl -u k3s -n 3 --no-pager -o cat 2>/dev/null; } | tr '\n' ' '; }
if ! systemctl is-active -q k3s; then
  say "repair: k3s is not running: starting it"
  systemctl start k3s || fail "repair: systemctl start k3s failed: $(why)"
  echo "record repaired started k3s"
elif ! curl -fsS --max-time 3 http://127.0.0.1:2381/health 2>/dev/null | grep -q '"health":"true"'; then
  say "repair: its etcd member is not healthy: restarting k3s"
  systemctl restart k3s || fail "repair: systemctl restart k3s failed: $(why)"
  echo "record repaired restarted k3s"
else
  # Preflight found it unhealthy in a way only the API shows (NotReady, unknown node).
  say "repair: restarting k3s, which runs but was unhealthy at preflight (its etcd member is not healthy)"
  systemctl restart k3s || fail "repair: systemctl restart k3s failed: $(why)"
  echo "record repaired restarted k3s"
fi
