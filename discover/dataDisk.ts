// Which Proxmox disk holds a guest's K3s data dir, from what the guest itself reports.

/** One mounted block-device filesystem: where, the whole disk under it (its own name, or its
 * parent's for a partition), and that disk's /dev/disk/by-id names. */
export interface BlockMount {
  readonly target: string;
  readonly disk: string;
  readonly ids: readonly string[];
}

/** Where K3s keeps its data when `data-dir` is unset (root: k3s `pkg/cli/cmds` `DataDirFlag`). */
export const DEFAULT_DATA_DIR = "/var/lib/rancher/k3s";

/**
 * Guest, read-only: each mount whose source is a /dev node, with its disk (`lsblk -ndo PKNAME`,
 * empty for a whole disk) and the by-id links that resolve to that disk, one tab-separated line
 * each. `findmnt -r` writes a space in a path as `\x20`; `-v` leaves a bind mount's `[/dir]` out of SOURCE.
 */
export const BLOCK_MOUNTS_SCRIPT = [
  "findmnt -rnv -o TARGET,SOURCE 2>/dev/null | while read -r target source; do",
  '  case "$source" in /dev/*) ;; *) continue ;; esac',
  '  disk=$(lsblk -ndo PKNAME "$source" 2>/dev/null | head -n 1) || disk=""',
  '  [ -n "$disk" ] || disk=${source##*/}',
  '  ids=$(for l in /dev/disk/by-id/*; do [ -L "$l" ] && [ "$(readlink -f "$l")" = "/dev/$disk" ] && printf \'%s \' "${l##*/}"; done; true)',
  '  printf \'%s\\t%s\\t%s\\n\' "$target" "$disk" "$ids"',
  "done",
].join("\n");

export function parseBlockMounts(text: string): BlockMount[] {
  return text
    .split("\n")
    .map((line) => line.split("\t"))
    .filter((f) => f.length >= 2 && f[0].startsWith("/") && f[1] !== "")
    .map(([target, disk, ids]) => ({
      target: target.replace(/\\x20/g, " "),
      disk,
      ids: (ids ?? "").split(" ").filter((id) => id !== ""),
    }));
}

/**
 * The Proxmox drive of a SCSI disk, from its by-id name. QEMU's scsi-hd reports its `device_id`
 * as the disk's device identification, by default the serial if one is set, else the drive's
 * block-backend name (qemu `hw/scsi/scsi-disk.c` `scsi_realize`); qemu-server names that backend
 * `drive-scsiN` (`src/PVE/QemuServer.pm` `print_drivedevice_full`: `drive=drive-$drive_id`) and,
 * for machine version 10.0 and later (-blockdev), sets `device_id=drive-$drive_id` itself. udev
 * links it as `/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-scsiN`. A disk with a `serial` on an
 * older machine version, and VirtIO block disks, have no such name.
 */
export function proxmoxDriveOf(ids: readonly string[]): string | undefined {
  for (const id of ids) {
    const m = /^scsi-0QEMU_QEMU_HARDDISK_drive-(scsi\d+)$/.exec(id);
    if (m) return m[1];
  }
  return undefined;
}

/** The Proxmox disk under `dataDir`: the block mount with the longest target that contains it,
 * when that disk has a Proxmox drive name; undefined otherwise (discover falls back to the VM's
 * only disk). */
export function dataDiskOf(mounts: readonly BlockMount[], dataDir: string): string | undefined {
  const inside = (target: string) =>
    target === "/" || dataDir === target || dataDir.startsWith(`${target}/`);
  const holding = mounts
    .filter((m) => inside(m.target))
    .sort((a, b) => b.target.length - a.target.length)[0];
  return holding ? proxmoxDriveOf(holding.ids) : undefined;
}
