set -eu
WHO='k3s-agent-1'
say() { printf '%s: %s\n' "$WHO" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$WHO" "$*" >&2; }
fail() { printf '%s: FAILED: %s\n' "$WHO" "$*" >&2; exit 1; }
# k3s-homelab roll step: drain; desired state 0123456789abcdef
NODE_NAME='agent-1'
why=$(sed -n 's/^restart-follows //p' | paste -sd ';' -)
if [ -z "$why" ]; then say "no restart follows: $NODE_NAME is not drained"; exit 0; fi
state=$(k3s kubectl get node "$NODE_NAME" -o jsonpath='{.spec.unschedulable}/{.metadata.annotations.k3s-homelab/cordoned}' 2>&1) || fail "cannot read node $NODE_NAME from the API: $state"
case "$state" in
  true/) say "$NODE_NAME was already cordoned, not by this tool: it stays cordoned after the roll" ;;
  */) # not cordoned yet: mark it as ours first, so a failure at any later point uncordons it
    k3s kubectl annotate --overwrite node "$NODE_NAME" "k3s-homelab/cordoned=$(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null || fail "kubectl annotate $NODE_NAME failed" ;;
esac
undo() {
  if [ -n "$(k3s kubectl get node "$NODE_NAME" -o jsonpath='{.metadata.annotations.k3s-homelab/cordoned}' 2>/dev/null)" ]; then
    k3s kubectl uncordon "$NODE_NAME" >/dev/null 2>&1 && k3s kubectl annotate node "$NODE_NAME" k3s-homelab/cordoned- >/dev/null 2>&1 && echo "uncordoned it again" || echo "could not uncordon it: run kubectl uncordon $NODE_NAME"
  else echo "it stays cordoned as it was"; fi
}
say "draining $NODE_NAME before its restart ($why), at most 300s"
log=$(mktemp); rc=$(mktemp)
# Streams kubectl's progress line by line as evictions happen (sed would buffer it) and keeps
# it for the failure message.
{ k3s kubectl drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --timeout=300s 2>&1 && echo 0 >"$rc" || echo 1 >"$rc"; } | tee "$log" | while IFS= read -r line; do say "$line"; done
if [ "$(cat "$rc")" = 0 ]; then
  rm -f "$log" "$rc"; say "drained $NODE_NAME"; echo "record drained"
else
  last=$(grep -v "^evicting pod" "$log" | tail -n 1)
  if grep -q "global timeout reached" "$log"; then what="did not finish in 300s"; else what="failed"; fi
  hint=""
  if grep -q "declare no controller" "$log"; then hint=" (this tool never drains with --force: delete or move those pods, or run them under a controller)"; fi
  rm -f "$log" "$rc"
  fail "drain of $NODE_NAME $what ($last)$hint; $(undo); nothing was restarted, though the new K3s binary and config may already be on disk for its next restart"
fi
