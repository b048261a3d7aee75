import { MODPROBE_FILE } from "./files";
import { prelude, writeFileIfChanged } from "./shell";

const PARAM = "/sys/module/zfs/parameters/zfs_txg_timeout";

/**
 * On a Proxmox host: the modprobe option for the next boot and the live module parameter for
 * now. A host without the zfs module is reported and left untouched. With root on ZFS the module
 * loads from the initramfs, so the initramfs is rebuilt and checked to carry the file.
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
    '  initrd="/boot/initrd.img-$(uname -r)"',
    `  if [ "$CHANGED" = 1 ] || ! lsinitramfs "$initrd" | grep -q "${MODPROBE_FILE.slice(1)}\$"; then`,
    '    say "root is on ZFS: rebuilding the initramfs"',
    '    update-initramfs -u >/dev/null || fail "update-initramfs -u failed"',
    "  fi",
    `  lsinitramfs "$initrd" | grep -q "${MODPROBE_FILE.slice(1)}\$" || fail "$initrd does not carry ${MODPROBE_FILE}"`,
    "fi",
    `say "zfs_txg_timeout is ${seconds}"`,
    "",
  ].join("\n");
}
