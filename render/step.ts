import { NodeRole } from "../config";
import {
  K3S_AGENT_TOKEN_FILE,
  K3S_CONFIG_FILE,
  K3S_STARTED_CONFIG_FILE,
  K3S_TOKEN_FILE,
} from "./files";
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
  /** Set where preflight found that the stack's config.yaml gives K3s the settings it runs with
   * now: it is written without a restart. Default: a new config.yaml restarts K3s. */
  readonly sameSettings?: SameSettings;
}

/** The config.yaml K3s started with and the stack's, by sha256, when both hold the same settings. */
export interface SameSettings {
  /** sha256 of the config.yaml K3s started with (kept as K3S_STARTED_CONFIG_FILE). */
  readonly startedWith: string;
  /** sha256 of the stack's config.yaml. */
  readonly desired: string;
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
 * config and token files; of the binary only, with `same` and its copy in place) for a running
 * unit. systemctl prints timestamps in the guest's zone
 * with its abbreviation (format_timestamp_style() in systemd's time-util.c), which GNU date
 * rejects (AEDT, WIB) or misreads (IST): ask for `--timestamp=unix` (`@<seconds>`, systemd 248
 * and later), else for UTC (the client formats with localtime, so TZ=UTC makes it UTC). */
export function unitAgeLines(role: NodeRole, same?: SameSettings): string[] {
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
    ...(same ? sameSettingsAgeLines(same) : []),
  ];
}

/** With the same settings: config.yaml and the token files count as unchanged while the copy of
 * the config.yaml K3s started with was made after that start and both files are the ones
 * preflight compared; only the binary then counts. */
function sameSettingsAgeLines(same: SameSettings): string[] {
  const kept = K3S_STARTED_CONFIG_FILE;
  return [
    "# The same settings in the program's form (preflight): only a new binary restarts K3s.",
    `if [ -f ${kept} ] && [ "$(stat -c %Y ${kept})" -ge "$started" ] && [ "$(sha256sum < ${kept} | cut -c1-64)" = ${same.startedWith} ] && [ "$(cat ${K3S_CONFIG_FILE} 2>/dev/null | sha256sum | cut -c1-64)" = ${same.desired} ]; then`,
    '  newest=$(stat -c %Y "$(command -v k3s)")',
    "fi",
  ];
}
