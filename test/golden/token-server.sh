set -eu
WHO='k3s-vm-fawn'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
IFS= read -r TOKEN || true
IFS= read -r AGENT_TOKEN || true
[ -n "$TOKEN" ] || fail "no token on stdin"
umask 077
mkdir -p /etc/rancher/k3s
# A server that already joined holds the cluster token; a different one would not start.
if [ -f /var/lib/rancher/k3s/server/token ]; then
  held=$(cat /var/lib/rancher/k3s/server/token)
  case "$held" in "$TOKEN"|*"::server:$TOKEN") ;; *) fail "k3s-homelab:token differs from the token this server already holds; rotating it needs k3s token rotate, refusing" ;; esac
fi
put() { tmp=$(mktemp /etc/rancher/k3s/.token.XXXXXX); printf '%s\n' "$2" > "$tmp"; if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; say "wrote $1"; fi; }
put /etc/rancher/k3s/token "$TOKEN"
if [ -n "$AGENT_TOKEN" ]; then put /etc/rancher/k3s/agent-token "$AGENT_TOKEN"; fi
say "token files in place"
