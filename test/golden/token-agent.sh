set -eu
WHO='k3s-agent-1'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
IFS= read -r TOKEN || true
IFS= read -r AGENT_TOKEN || true
[ -n "$TOKEN" ] || fail "no token on stdin"
umask 077
mkdir -p /etc/rancher/k3s
put() { tmp=$(mktemp /etc/rancher/k3s/.token.XXXXXX); printf '%s\n' "$2" > "$tmp"; if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; say "wrote $1"; fi; }
put /etc/rancher/k3s/token "${AGENT_TOKEN:-$TOKEN}"
say "token files in place"
