/** The `current:` and `pending:` drive strings the disk step prints last. */
export interface DiskReport {
  readonly current: string;
  readonly pending: string;
}

function lineValue(stdout: string, label: string): string {
  const line = stdout.split("\n").find((l) => l.startsWith(`${label}: `));
  return line === undefined ? "" : line.slice(label.length + 2);
}

export function parseDiskReport(stdout: string): DiskReport {
  return { current: lineValue(stdout, "current"), pending: lineValue(stdout, "pending") };
}

/** Keys another sysctl file sets again after 99-etcd.conf, as `override KEY FILE` lines. */
export function parseSysctlOverrides(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("override "))
    .map((l) => l.slice("override ".length));
}

/** What a node's roll did the last time its steps ran (stack output). */
export interface RollRecord {
  readonly done: string[];
  readonly snapshot?: string;
  /** Where the snapshot was saved, as `k3s etcd-snapshot ls` reports it (file:// or s3://). */
  readonly snapshotLocation?: string;
  readonly gateSeconds?: number;
  /** When the gate passed (UTC). */
  readonly at?: string;
}

/** Reads the `record KEY VALUE` lines the roll steps print, in step order. */
export function parseRollRecord(stdouts: readonly string[]): RollRecord {
  const done: string[] = [];
  let snapshot: string | undefined;
  let snapshotLocation: string | undefined;
  let gateSeconds: number | undefined;
  let at: string | undefined;
  for (const line of stdouts.join("\n").split("\n")) {
    const match = /^record (\S+) ?(.*)$/.exec(line);
    if (!match) continue;
    const [, key, value] = match;
    if (key === "snapshot") snapshot = value;
    else if (key === "snapshot_location") snapshotLocation = value;
    else if (key === "gate_seconds") gateSeconds = Number(value);
    else if (key === "at") at = value;
    else if (key === "config")
      done.push(
        value === "same-settings"
          ? "config.yaml rewritten (the settings K3s runs with: no restart)"
          : "config.yaml rewritten",
      );
    else if (key === "installed") done.push(`K3s ${value} installed`);
    else if (key === "rebooted") done.push(`qm reboot (${value.trim()})`);
    else if (key === "restarted") done.push(`${value} restarted`);
    else if (key === "drained") done.push("drained");
    else if (key === "uncordoned") done.push("uncordoned");
  }
  return { done, snapshot, snapshotLocation, gateSeconds, at };
}
