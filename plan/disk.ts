/** Options of a Proxmox drive string such as `local-zfs:vm-105-disk-0,cache=writeback,size=64G`. */
export function driveOption(drive: string, key: string): string | undefined {
  for (const part of drive.split(",").slice(1)) {
    const [k, ...v] = part.split("=");
    if (k === key) return v.join("=");
  }
  return undefined;
}

/** Proxmox's effective values: no `cache` is `none`, no `iothread` is off, no `scsihw` is `lsi`. */
export function effectiveDisk(config: Readonly<Record<string, string>>, disk: string) {
  const drive = config[disk] ?? "";
  return {
    present: drive !== "",
    cache: driveOption(drive, "cache") ?? "none",
    iothread: driveOption(drive, "iothread") === "1",
    scsihw: config.scsihw ?? "lsi",
  };
}

export interface DesiredDisk {
  readonly disk: string;
  readonly cache: string;
  readonly iothread: boolean;
}

/** What the running VM (`qm config --current`) lacks, e.g. `cache none→writeback`. */
export function owedDiskChanges(
  current: Readonly<Record<string, string>>,
  want: DesiredDisk,
): string[] {
  const have = effectiveDisk(current, want.disk);
  const owed: string[] = [];
  if (have.cache !== want.cache) owed.push(`cache ${have.cache}→${want.cache}`);
  if (have.iothread !== want.iothread)
    owed.push(`iothread ${have.iothread ? 1 : 0}→${want.iothread ? 1 : 0}`);
  if (want.iothread && want.disk.startsWith("scsi") && have.scsihw !== "virtio-scsi-single") {
    owed.push(`scsihw ${have.scsihw}→virtio-scsi-single`);
  }
  return owed;
}
