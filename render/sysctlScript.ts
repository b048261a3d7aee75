import { SYSCTL_FILE } from "./files";
import { prelude, writeFileIfChanged } from "./shell";

/** Directories systemd-sysctl and `sysctl --system` read, and the legacy file read last. */
const SYSCTL_DIRS =
  "/etc/sysctl.d /run/sysctl.d /usr/local/lib/sysctl.d /usr/lib/sysctl.d /lib/sysctl.d";

/** Shell lines setting LATER to the files applied after 99-etcd.conf at boot (those that sort
 * after it, and /etc/sysctl.conf). Shared with the doctor's read-only probe. */
export const LATER_SYSCTL_FILES: readonly string[] = [
  "later_files() {",
  `  for d in ${SYSCTL_DIRS}; do`,
  '    for f in "$d"/*.conf; do',
  '      [ -e "$f" ] || continue',
  "      b=${f##*/}",
  '      [ "$b" = 99-etcd.conf ] && continue',
  '      [ "$(printf \'%s\\n%s\\n\' "$b" 99-etcd.conf | LC_ALL=C sort | tail -n 1)" = "$b" ] && echo "$f"',
  "    done",
  "  done",
  "  [ -e /etc/sysctl.conf ] && readlink -f /etc/sysctl.conf",
  "  return 0",
  "}",
  "LATER=$(later_files | sort -u)",
];

/**
 * Writes 99-etcd.conf when it differs, applies only that file when a live value differs, reads
 * every value back, and warns about later files that set a key again (they win at boot).
 * Prints `override KEY FILE` lines for each such key.
 */
export function renderSysctlApplyScript(
  who: string,
  content: string,
  sysctl: Readonly<Record<string, string>>,
): string {
  const wanted = Object.entries(sysctl).map(([key, value]) => `${key} ${value}`);
  return [
    prelude(who),
    writeFileIfChanged(SYSCTL_FILE, content, "0644"),
    `[ "$CHANGED" = 1 ] && say "wrote ${SYSCTL_FILE}" || say "${SYSCTL_FILE} already up to date"`,
    "# A value is compared with tabs and repeated spaces folded, as sysctl prints them.",
    "live() { sysctl -n \"$1\" 2>/dev/null | tr -s ' \\t' '  '; }",
    "WANT=$(cat <<'K3S_HOMELAB_EOF'",
    ...wanted,
    "K3S_HOMELAB_EOF",
    ")",
    "# Prints `KEY=LIVE (want VALUE)` for each live value that differs.",
    'mismatches() { echo "$WANT" | while read -r k v; do got=$(live "$k"); [ "$got" = "$v" ] || echo "$k=$got (want $v)"; done; }',
    'if [ -n "$(mismatches)" ]; then',
    `  sysctl -q -p ${SYSCTL_FILE} >/dev/null || fail "sysctl -p ${SYSCTL_FILE} failed"`,
    '  say "applied live values"',
    "fi",
    "BAD=$(mismatches | tr '\\n' ' ')",
    '[ -z "$BAD" ] || fail "live values did not take: $BAD"',
    "# Files that sort after 99-etcd.conf (and /etc/sysctl.conf) are applied later at boot.",
    ...LATER_SYSCTL_FILES,
    "override() {",
    "  pattern=$(printf '%s' \"$1\" | sed 's/[.\\/]/[.\\/]/g')",
    "  for f in $LATER; do",
    '    if grep -Eq "^[[:space:]]*-?[[:space:]]*${pattern}[[:space:]]*=" "$f"; then',
    '      echo "override $1 $f"; warn "$1 is set again in $f, which is applied after 99-etcd.conf at boot"',
    "    fi",
    "  done",
    "}",
    'for k in $(echo "$WANT" | cut -d" " -f1); do override "$k"; done',
    'say "sysctl values hold"',
    "",
  ].join("\n");
}
