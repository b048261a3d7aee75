import { ETCD_FUNCTIONS } from "./etcdApi";
import { header, k3sUnit, RollTarget, unitWhyFunction } from "./step";
import { awaitReadyFunction, unitJobLines, unitSnapshotLines } from "./unitJobs";

/**
 * Guest, in repair mode, before the roll: restarts the node's K3s only when it is unhealthy: the
 * unit is not running, on a server its etcd member does not answer healthy, or preflight found it
 * unhealthy (`reason`: NotReady, unknown to the API). A node preflight found healthy and that runs
 * is left alone. The repair gate that follows waits for it to be Ready again. A start or restart
 * is queued and waited for at most `timeoutSeconds` (see `awaitReadyFunction`).
 */
export function renderRepairScript(
  target: RollTarget,
  timeoutSeconds: number,
  reason?: string,
): string {
  const u = k3sUnit(target.role);
  return [
    header(target, "repair"),
    `# at preflight: ${(reason ?? "healthy").replace(/\n/g, " ")}`,
    unitWhyFunction(target.role),
    awaitReadyFunction(target.role, timeoutSeconds),
    ...(target.role === "server" ? [ETCD_FUNCTIONS] : []),
    ...unitSnapshotLines(target.role),
    'if [ "$now_state" != active ]; then',
    `  say "repair: ${u} is not running ($now_state): starting it"`,
    ...unitJobLines(target.role, "start", "repair: ", "snapshot").map((l) => `  ${l}`),
    `  echo "record repaired started ${u}"`,
    ...(target.role === "server"
      ? [
          'elif ! etcd_local health | grep -q \'"health":"true"\'; then',
          `  say "repair: its etcd member is not healthy: restarting ${u}"`,
          ...unitJobLines(target.role, "restart", "repair: ").map((l) => `  ${l}`),
          `  echo "record repaired restarted ${u}"`,
        ]
      : []),
    "else",
    ...(reason === undefined
      ? [
          `  say "repair: ${u} runs${target.role === "server" ? " and its etcd member is healthy" : ""}: left alone"`,
        ]
      : [
          "  # Preflight found it unhealthy in a way only the API shows (NotReady, unknown node).",
          `  say "repair: restarting ${u}, which runs but was unhealthy at preflight (${reason.replace(/["$`\\]/g, "")})"`,
          ...unitJobLines(target.role, "restart", "repair: ").map((l) => `  ${l}`),
          `  echo "record repaired restarted ${u}"`,
        ]),
    "fi",
    "",
  ].join("\n");
}
