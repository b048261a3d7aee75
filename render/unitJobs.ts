import { NodeRole } from "../config";
import { k3sUnit } from "./step";

/**
 * A shell function `await_ready BEFORE` that waits, at most `timeoutSeconds`, until the K3s unit
 * is active with an ActiveEnterTimestampMonotonic other than BEFORE (its value before the job).
 *
 * install.sh writes the unit `Type=notify` with `TimeoutStartSec=0`: a start job lasts until K3s
 * sends READY=1, which a server sends only once etcd has quorum and an agent only once its server
 * answers, so a plain `systemctl start|restart` can block for ever. The jobs are queued with
 * `--no-block` and this wait is the bound; progress lines report ActiveState/SubState. A unit
 * that stays failed or inactive fails at once with its last words; Restart=always shows a crash
 * loop as activating/auto-restart instead, which fails at the bound saying so.
 */
export function awaitReadyFunction(role: NodeRole, timeoutSeconds: number): string {
  const u = k3sUnit(role);
  const waits =
    role === "server"
      ? "a server sends it once etcd has quorum"
      : "an agent once its server answers";
  return [
    "await_ready() {",
    "  begin=$(date +%s); next=15; down=0; looped=''",
    "  while :; do",
    `    props=$(systemctl show -p ActiveState,SubState,ActiveEnterTimestampMonotonic ${u})`,
    "    state=$(printf '%s\\n' \"$props\" | sed -n 's/^ActiveState=//p')",
    "    sub=$(printf '%s\\n' \"$props\" | sed -n 's/^SubState=//p')",
    "    entered=$(printf '%s\\n' \"$props\" | sed -n 's/^ActiveEnterTimestampMonotonic=//p')",
    '    if [ "$state" = active ] && [ "$entered" != "$1" ]; then',
    `      say "${u} is active (READY) after $(( $(date +%s) - begin ))s"`,
    "      return 0",
    "    fi",
    '    case "$state" in failed|inactive) down=$((down + 1)) ;; *) down=0 ;; esac',
    '    [ "$sub" != auto-restart ] || looped=yes',
    `    [ "$down" -lt 3 ] || fail "${u} did not start (ActiveState=$state SubState=$sub): $(why)"`,
    "    elapsed=$(( $(date +%s) - begin ))",
    `    [ "$elapsed" -lt ${timeoutSeconds} ] || [ -z "$looped" ] || fail "${u} did not signal READY within ${timeoutSeconds}s: it keeps exiting and systemd starts it again (Restart=always; SubState=auto-restart seen, now $state/$sub): $(why)"`,
    `    [ "$elapsed" -lt ${timeoutSeconds} ] || fail "${u} did not signal READY within ${timeoutSeconds}s (ActiveState=$state SubState=$sub): ${waits}; its start job stays queued"`,
    `    if [ "$elapsed" -ge "$next" ]; then say "waiting for ${u} to signal READY (\${elapsed}s): ActiveState=$state SubState=$sub"; next=$((elapsed + 15)); fi`,
    "    sleep 2",
    "  done",
    "}",
  ].join("\n");
}

/** Shell lines that queue `systemctl VERB --no-block` for the K3s unit and wait, bounded, for
 * READY (needs `why` and `await_ready`); `failure` prefixes the message when queuing fails.
 * `before: "read"` reads the unit's ActiveEnterTimestampMonotonic first; `"snapshot"` uses the
 * `$before` that `unitSnapshotLines` read together with the state the caller tested. */
export function unitJobLines(
  role: NodeRole,
  verb: "start" | "restart",
  failure: string,
  before: "read" | "snapshot" = "read",
): string[] {
  const u = k3sUnit(role);
  return [
    ...(before === "read"
      ? [`before=$(systemctl show -p ActiveEnterTimestampMonotonic --value ${u})`]
      : []),
    `systemctl ${verb} --no-block ${u} || fail "${failure}systemctl ${verb} ${u} failed: $(why)"`,
    'await_ready "$before"',
  ];
}

/** Shell lines that read, in one `systemctl show`, the K3s unit's state (`$now_state`) and its
 * ActiveEnterTimestampMonotonic (`$before`, for await_ready). Read apart, a unit that became
 * active between the two reads (an agent finishing its start at boot) would never look started:
 * the wait would see the timestamp it began with and time out while the unit runs. */
export function unitSnapshotLines(role: NodeRole): string[] {
  const u = k3sUnit(role);
  return [
    `snapshot=$(systemctl show -p ActiveState,ActiveEnterTimestampMonotonic ${u})`,
    "now_state=$(printf '%s\\n' \"$snapshot\" | sed -n 's/^ActiveState=//p')",
    "before=$(printf '%s\\n' \"$snapshot\" | sed -n 's/^ActiveEnterTimestampMonotonic=//p')",
  ];
}
