import type { StorageEntry } from "../probe/observations";

/** Options of a Proxmox drive string such as `local-zfs:vm-105-disk-0,cache=writeback,size=64G`. */
export function driveOption(drive: string, key: string): string | undefined {
  for (const part of drive.split(",").slice(1)) {
    const [k, ...v] = part.split("=");
    if (k === key) return v.join("=");
  }
  return undefined;
}

/** The storage id of a drive's volume (`local-zfs` of `local-zfs:vm-105-disk-0,...`). */
export function driveStorage(drive: string): string | undefined {
  return /^([^:/,]+):/.exec(drive)?.[1];
}

export type StorageMap = ReadonlyMap<string, StorageEntry>;

/** The cache mode QEMU really uses (`drive_uses_cache_direct` in qemu-server): an absent
 * `cache=` is `none`, except on BTRFS storage without `nocow`, where QEMU's own default applies:
 * writeback. */
export function effectiveCache(drive: string, storage?: StorageMap): string {
  const explicit = driveOption(drive, "cache");
  if (explicit) return explicit;
  const entry = storage?.get(driveStorage(drive) ?? "");
  return entry?.type === "btrfs" && entry.options.nocow !== "1" ? "writeback" : "none";
}

/** Whether a cache mode opens the image with O_DIRECT (`cache.direct=on`), which QEMU needs for
 * `aio=native`. */
export function isDirectCache(cache: string): boolean {
  return cache === "none" || cache === "directsync";
}

/** Proxmox's effective values: no `cache` is `none` (QEMU's writeback on BTRFS without nocow),
 * no `iothread` is off, no `scsihw` is `lsi`. */
export function effectiveDisk(
  config: Readonly<Record<string, string>>,
  disk: string,
  storage?: StorageMap,
) {
  const drive = config[disk] ?? "";
  return {
    present: drive !== "",
    cache: effectiveCache(drive, storage),
    iothread: driveOption(drive, "iothread") === "1",
    scsihw: config.scsihw ?? "lsi",
  };
}

export interface DesiredDisk {
  readonly disk: string;
  readonly cache: string;
  readonly iothread: boolean;
}

/** What the VM's config without its pending section (`qm config --current`) lacks, e.g.
 * `cache none→writeback`. */
export function owedDiskChanges(
  current: Readonly<Record<string, string>>,
  want: DesiredDisk,
  storage?: StorageMap,
): string[] {
  const have = effectiveDisk(current, want.disk, storage);
  const owed: string[] = [];
  if (have.cache !== want.cache) owed.push(`cache ${have.cache}→${want.cache}`);
  if (have.iothread !== want.iothread)
    owed.push(`iothread ${have.iothread ? 1 : 0}→${want.iothread ? 1 : 0}`);
  if (want.iothread && want.disk.startsWith("scsi") && have.scsihw !== "virtio-scsi-single") {
    owed.push(`scsihw ${have.scsihw}→virtio-scsi-single`);
  }
  return owed;
}

/** What would stop the VM from starting again, or hang it, with the drive's `aio` kept and the
 * desired cache: QEMU refuses `aio=native` without a direct cache; qemu-server never picks
 * io_uring with a non-direct cache on krbd, nor on LVM (`storage_allows_io_uring_default`). */
export function aioProblem(
  drive: string,
  cache: string,
  storage?: StorageMap,
): { readonly level: "error" | "warning"; readonly text: string } | undefined {
  const aio = driveOption(drive, "aio");
  if (aio === "native" && !isDirectCache(cache)) {
    return {
      level: "error",
      text: `has aio=native, and QEMU refuses aio=native without a direct cache (cache=${cache} is not): the VM would not start again after qm reboot; change \`aio\` on the disk first (to io_uring or threads), or \`disk.cache\` to none or directsync`,
    };
  }
  const entry = storage?.get(driveStorage(drive) ?? "");
  const hangs = entry?.type === "lvm" || (entry?.type === "rbd" && entry.options.krbd === "1");
  if (aio === "io_uring" && !isDirectCache(cache) && hangs) {
    return {
      level: "warning",
      text: `has aio=io_uring with cache=${cache} on ${entry.type === "lvm" ? "LVM" : "krbd"} storage, which can hang (qemu-server never picks io_uring there itself); consider aio=threads`,
    };
  }
  return undefined;
}
