import { NodeRole } from "../config";
import { K3S_AGENT_TOKEN_FILE, K3S_CONFIG_FILE, K3S_TOKEN_FILE } from "./files";
import { prelude } from "./shell";

/** What every step of one node's roll knows about the node. */
export interface RollTarget {
  /** The stack's name for the node, used in every message. */
  readonly node: string;
  /** The Kubernetes node name the API reports. */
  readonly nodeName: string;
  readonly role: NodeRole;
  readonly k3sVersion: string;
  /** A hash of everything the roll converges, so every step re-runs when any part changes. */
  readonly fingerprint: string;
}

/** The first lines of a roll step: strict mode, helpers, and the desired-state comment whose
 * change makes the step run again. */
export function header(target: RollTarget, step: string): string {
  return `${prelude(target.node)}\n# k3s-homelab roll step: ${step}; desired state ${target.fingerprint}`;
}

/** The K3s unit of a role. */
export function k3sUnit(role: NodeRole): string {
  return role === "server" ? "k3s" : "k3s-agent";
}

/** A shell function `why` printing the unit's state and last log lines, for failure messages. */
export function unitWhyFunction(role: NodeRole): string {
  const u = k3sUnit(role);
  return `why() { { systemctl status ${u} 2>&1 | sed -n 's/^ *Active: //p'; journalctl -u ${u} -n 3 --no-pager -o cat 2>/dev/null; } | tr '\\n' ' '; }`;
}

/** Shell lines setting `since`, `started` (epoch) and `newest` (the newest mtime of the binary,
 * config and token files) for a running unit. systemctl prints timestamps in the guest's zone
 * with its abbreviation (format_timestamp_style() in systemd's time-util.c), which GNU date
 * rejects (AEDT, WIB) or misreads (IST): ask for `--timestamp=unix` (`@<seconds>`, systemd 248
 * and later), else for UTC (the client formats with localtime, so TZ=UTC makes it UTC). */
export function unitAgeLines(role: NodeRole): string[] {
  const u = k3sUnit(role);
  return [
    `since=$(systemctl show --timestamp=unix -p ActiveEnterTimestamp --value ${u} 2>/dev/null) || since=''`,
    'case "$since" in',
    "  @[0-9]*) started=${since#@} ;;",
    `  *) since=$(TZ=UTC systemctl show -p ActiveEnterTimestamp --value ${u})`,
    '     started=$(TZ=UTC date -d "$since" +%s) || fail "cannot read when ' +
      u +
      ' started ($since)" ;;',
    "esac",
    `newest=$(for f in "$(command -v k3s)" ${K3S_CONFIG_FILE} ${K3S_TOKEN_FILE} ${K3S_AGENT_TOKEN_FILE}; do [ ! -e "$f" ] || stat -c %Y "$f"; done | sort -n | tail -n 1)`,
  ];
}
