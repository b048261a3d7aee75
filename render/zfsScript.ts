import { MODPROBE_FILE } from "./files";
import { prelude, writeFileIfChanged } from "./shell";

const PARAM = "/sys/module/zfs/parameters/zfs_txg_timeout";

/** Shell functions for a root on ZFS: `bootable_images` lists every kernel version with both
 * `/boot/vmlinuz-V` and `/boot/initrd.img-V` (any of them can boot, not only `uname -r`: a newer
 * kernel waits for the next boot, an older one may be pinned); `stale_images` lists those whose
 * initramfs does not hold our modprobe file as it is now (read inside with `unmkinitramfs`). */
function initramfsCheck(): string[] {
  const inside = MODPROBE_FILE.slice(1);
  return [
    '  bootable_images() { for k in /boot/vmlinuz-*; do v=${k#/boot/vmlinuz-}; [ -f "/boot/initrd.img-$v" ] && printf \' %s\' "$v"; done; return 0; }',
    "  carries() {",
    "    d=$(mktemp -d); ok=1",
    `    if unmkinitramfs "$1" "$d" >/dev/null 2>&1; then f=$(find "$d" -path "*/${inside}" | head -n 1); [ -n "$f" ] && cmp -s "$f" ${MODPROBE_FILE} && ok=0; fi`,
    '    rm -rf "$d"; return "$ok"',
    "  }",
    '  stale_images() { for v in $(bootable_images); do carries "/boot/initrd.img-$v" || printf \' %s\' "$v"; done; return 0; }',
  ];
}

/**
 * On a Proxmox host: the modprobe option for the next boot and the live module parameter for
 * now. A host without the zfs module is reported and left untouched. With root on ZFS the module
 * loads from the initramfs: every bootable image is rebuilt (`update-initramfs -u -k all`, as
 * local-zfs.adoc says; plain `-u` rebuilds only the newest kernel's) and checked to carry the file.
 */
export function renderZfsTxgScript(who: string, content: string, seconds: number): string {
  return [
    prelude(who),
    `if [ ! -e ${PARAM} ]; then say "no ZFS module loaded: zfs_txg_timeout not tuned, nothing changed"; exit 0; fi`,
    writeFileIfChanged(MODPROBE_FILE, content, "0644"),
    `[ "$CHANGED" = 1 ] && say "wrote ${MODPROBE_FILE}" || say "${MODPROBE_FILE} already up to date"`,
    `for f in /etc/modprobe.d/*.conf; do`,
    `  [ "$f" = ${MODPROBE_FILE} ] && continue`,
    `  grep -Eq '^[[:space:]]*options[[:space:]]+zfs[[:space:]].*zfs_txg_timeout=' "$f" 2>/dev/null && warn "$f also sets zfs_txg_timeout; ${MODPROBE_FILE} is read after it and wins"`,
    "done",
    `live=$(cat ${PARAM})`,
    `if [ "$live" != ${seconds} ]; then`,
    `  echo ${seconds} > ${PARAM}`,
    `  say "zfs_txg_timeout $live -> ${seconds} (live)"`,
    "fi",
    `[ "$(cat ${PARAM})" = ${seconds} ] || fail "zfs_txg_timeout is $(cat ${PARAM}) after writing ${seconds}"`,
    'if [ "$(findmnt -n -o FSTYPE / 2>/dev/null)" = zfs ]; then',
    ...initramfsCheck(),
    `  stale=$(stale_images)`,
    `  if [ "$CHANGED" = 1 ] || [ -n "$stale" ]; then`,
    '    say "root is on ZFS: rebuilding the initramfs of every kernel (update-initramfs -u -k all)${stale:+; without the current option:$stale}"',
    '    update-initramfs -u -k all >/dev/null || fail "update-initramfs -u -k all failed"',
    "  fi",
    "  stale=$(stale_images)",
    `  [ -z "$stale" ] || fail "after update-initramfs -u -k all these initramfs images still lack the current ${MODPROBE_FILE}:$stale"`,
    '  say "every bootable initramfs carries the option:$(bootable_images)"',
    "fi",
    `say "zfs_txg_timeout is ${seconds}"`,
    "",
  ].join("\n");
}
