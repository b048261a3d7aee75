/** The three views of a VM's config that `qm config --current`, `qm config` and `qm pending`
 * print, taken from the one file pmxcfs holds (`/etc/pve/qemu-server/<vmid>.conf`) instead of
 * three runs of `qm`, each of which loads the Perl PVE stack. Sources, qemu-server and
 * pve-guest-common (lab/README.md, Conformance):
 * - the file: `PVE::QemuServer::parse_vm_config` (main section, `[PENDING]` with its `delete:`
 *   line, then `[special:...]` and snapshot sections, which no view shows);
 * - `qm config [--current]`: `PVE::AbstractConfig::load_current_config`, which lays pending
 *   values over the main section and drops what `delete:` names;
 * - `qm pending`: `PVE::GuestHelpers::config_with_pending_array` and `format_pending`. */
export interface VmConfigViews {
  readonly current: Record<string, string>;
  readonly pending: Record<string, string>;
  /** The keys `qm pending` prints as `new KEY` or `del KEY` (`delete:KEY`), sorted. */
  readonly pendingKeys: string[];
}

const KEY_LINE = /^([a-z][a-z_-]*\d*):\s*(.+?)\s*$/;

interface ParsedFile {
  readonly main: Record<string, string>;
  readonly pending: Record<string, string>;
  readonly deletes: readonly string[];
}

/** `parse_pending_delete`: names split on commas, semicolons and spaces; `!` marks a forced one. */
function pendingDeletes(value: string | undefined): string[] {
  return (value ?? "")
    .split(/[,;\s]+/)
    .filter((entry) => entry !== "")
    .map((entry) => entry.replace(/^!/, ""));
}

function parseFile(raw: string): ParsedFile {
  const main: Record<string, string> = {};
  const pending: Record<string, string> = {};
  let section: Record<string, string> | undefined = main;
  for (const line of raw.split("\n")) {
    if (/^\s*$/.test(line)) continue;
    if (/^\[PENDING\]\s*$/i.test(line)) {
      section = pending;
      continue;
    }
    if (/^\[[^\]]*\]\s*$/.test(line)) {
      section = undefined; // a snapshot or special section: no view shows it
      continue;
    }
    // `#` lines are the description, which nothing here reads.
    if (section === undefined || line.startsWith("#")) continue;
    const match = KEY_LINE.exec(line);
    if (match) section[match[1]] = match[2];
  }
  const { delete: deleteLine, ...values } = pending;
  return { main, pending: values, deletes: pendingDeletes(deleteLine) };
}

export function vmConfigViews(raw: string): VmConfigViews {
  const { main, pending, deletes } = parseFile(raw);
  const applied: Record<string, string> = { ...main, ...pending };
  // Perl truth, as `delete $conf->{$opt} if $conf->{$opt}` on the merged view: "" and "0" stay.
  for (const key of deletes) if (applied[key] && applied[key] !== "0") delete applied[key];
  const keys = new Set([...Object.keys(main), ...Object.keys(pending)]);
  const pendingKeys = [...keys]
    .filter((key) => key !== "digest")
    .sort()
    .flatMap((key) => {
      if (main[key] !== undefined && deletes.includes(key)) return [`delete:${key}`];
      return pending[key] !== undefined ? [key] : [];
    });
  return { current: { ...main }, pending: applied, pendingKeys };
}
