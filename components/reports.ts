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
