import { NodeRole } from "../config";
import { shellQuote } from "./shell";
import { header, k3sUnit, RollTarget, SameSettings, unitAgeLines } from "./step";

/** The annotation the drain step sets on a node it cordoned, so the gate uncordons only nodes this
 * tool cordoned (never one the owner cordoned by hand). */
export const CORDON_ANNOTATION = "k3s-homelab/cordoned";

/** Guest, at the end of prepare when drain is on: prints `restart-follows ...` when the running
 * unit will restart to pick up what is on disk now (the drain step reads it). */
export function restartFollowsLines(role: NodeRole, same?: SameSettings): string[] {
  const u = k3sUnit(role);
  return [
    `if systemctl is-active -q ${u}; then`,
    ...unitAgeLines(role, same).map((l) => `  ${l}`),
    `  if [ "$newest" -ge "$started" ]; then echo "restart-follows ${u} restart (binary or config changed)"; fi`,
    "fi",
  ];
}

/** Shell lines for the gate, once it passed: uncordon the node when this tool cordoned it. */
export function uncordonLines(): string[] {
  return [
    `ours=$(k3s kubectl get node "$NODE_NAME" -o jsonpath='{.metadata.annotations.${CORDON_ANNOTATION}}' 2>/dev/null) || ours=''`,
    'if [ -n "$ours" ]; then',
    '  k3s kubectl uncordon "$NODE_NAME" >/dev/null || fail "kubectl uncordon $NODE_NAME failed"',
    `  k3s kubectl annotate node "$NODE_NAME" ${CORDON_ANNOTATION}- >/dev/null || warn "could not remove the ${CORDON_ANNOTATION} annotation"`,
    '  say "uncordoned $NODE_NAME"; echo "record uncordoned"',
    "fi",
  ];
}

/**
 * Runs on a server before a node's disruptive step, reading on stdin what the prepare and disk
 * check steps printed: when a restart follows, cordons the node (marking it as cordoned by this
 * tool) and drains it with a timeout; when the drain fails, uncordons it again and fails, before
 * anything restarted. When no restart follows, it leaves the node alone.
 */
export function renderDrainScript(target: RollTarget, timeoutSeconds: number): string {
  return [
    header(target, "drain"),
    `NODE_NAME=${shellQuote(target.nodeName)}`,
    "why=$(sed -n 's/^restart-follows //p' | paste -sd ';' -)",
    'if [ -z "$why" ]; then say "no restart follows: $NODE_NAME is not drained"; exit 0; fi',
    `state=$(k3s kubectl get node "$NODE_NAME" -o jsonpath='{.spec.unschedulable}/{.metadata.annotations.${CORDON_ANNOTATION}}' 2>&1) || fail "cannot read node $NODE_NAME from the API: $state"`,
    'case "$state" in',
    '  true/) say "$NODE_NAME was already cordoned, not by this tool: it stays cordoned after the roll" ;;',
    "  */) # not cordoned yet: mark it as ours first, so a failure at any later point uncordons it",
    `    k3s kubectl annotate --overwrite node "$NODE_NAME" "${CORDON_ANNOTATION}=$(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null || fail "kubectl annotate $NODE_NAME failed" ;;`,
    "esac",
    "undo() {",
    `  if [ -n "$(k3s kubectl get node "$NODE_NAME" -o jsonpath='{.metadata.annotations.${CORDON_ANNOTATION}}' 2>/dev/null)" ]; then`,
    `    k3s kubectl uncordon "$NODE_NAME" >/dev/null 2>&1 && k3s kubectl annotate node "$NODE_NAME" ${CORDON_ANNOTATION}- >/dev/null 2>&1 && echo "uncordoned it again" || echo "could not uncordon it: run kubectl uncordon $NODE_NAME"`,
    '  else echo "it stays cordoned as it was"; fi',
    "}",
    `say "draining $NODE_NAME before its restart ($why), at most ${timeoutSeconds}s"`,
    "log=$(mktemp); rc=$(mktemp)",
    "# Streams kubectl's progress line by line as evictions happen (sed would buffer it) and keeps",
    "# it for the failure message.",
    `{ k3s kubectl drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --timeout=${timeoutSeconds}s 2>&1 && echo 0 >"$rc" || echo 1 >"$rc"; } | tee "$log" | while IFS= read -r line; do say "$line"; done`,
    'if [ "$(cat "$rc")" = 0 ]; then',
    '  rm -f "$log" "$rc"; say "drained $NODE_NAME"; echo "record drained"',
    "else",
    '  last=$(grep -v "^evicting pod" "$log" | tail -n 1)',
    `  if grep -q "global timeout reached" "$log"; then what="did not finish in ${timeoutSeconds}s"; else what="failed"; fi`,
    '  hint=""',
    '  if grep -q "declare no controller" "$log"; then hint=" (this tool never drains with --force: delete or move those pods, or run them under a controller)"; fi',
    '  rm -f "$log" "$rc"',
    '  fail "drain of $NODE_NAME $what ($last)$hint; $(undo); nothing was restarted, though the new K3s binary and config may already be on disk for its next restart"',
    "fi",
    "",
  ].join("\n");
}
