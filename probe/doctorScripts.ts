import { shellQuote } from "../render/shell";
import { LATER_SYSCTL_FILES } from "../render/sysctlScript";
import { renderNodeProbe, SECTION } from "./scripts";

/** Where K3s keeps etcd (`db/etcd`): fio measures this file system. */
export const ETCD_DATA_DIR = "/var/lib/rancher/k3s/server/db";

/** The families the doctor reads from etcd's /metrics; the rest of the page is not sent back. */
export const DOCTOR_METRIC_FAMILIES: readonly string[] = [
  "etcd_disk_wal_fsync_duration_seconds",
  "etcd_disk_backend_commit_duration_seconds",
  "etcd_server_leader_changes_seen_total",
  "etcd_server_has_leader",
  "etcd_mvcc_db_total_size_in_bytes",
  "etcd_server_quota_backend_bytes",
  "process_start_time_seconds",
];

function mark(name: string): string {
  return `printf '\\n${SECTION} %s\\n' '${name}'`;
}

/**
 * Read-only, for `npm run doctor`: the preflight node probe (renderNodeProbe, unchanged) followed
 * by what only the doctor reads: sysctl keys set again by later files (`KEY<TAB>FILE<TAB>VALUE`),
 * and on servers etcd's metrics from 127.0.0.1:2381 (only the families the doctor uses) and the
 * count of "slow fdatasync" lines K3s logged in the last 24 h.
 */
export function renderDoctorNodeProbe(sysctlKeys: readonly string[], isServer: boolean): string {
  const lines = [
    renderNodeProbe(sysctlKeys, isServer).trimEnd(),
    mark("sysctl-override"),
    ...LATER_SYSCTL_FILES,
    "override() {",
    "  pattern=$(printf '%s' \"$1\" | sed 's/[.\\/]/[.\\/]/g')",
    "  for f in $LATER; do",
    '    line=$(grep -E "^[[:space:]]*-?[[:space:]]*${pattern}[[:space:]]*=" "$f" 2>/dev/null | tail -n 1)',
    '    [ -n "$line" ] || continue',
    "    printf '%s\\t%s\\t%s\\n' \"$1\" \"$(readlink -f \"$f\")\" \"$(printf '%s' \"${line#*=}\" | tr -s ' \\t' '  ' | sed 's/^ //; s/ $//')\"",
    "  done",
    "}",
    ...sysctlKeys.map((key) => `override ${shellQuote(key)}`),
  ];
  if (isServer) {
    const families = DOCTOR_METRIC_FAMILIES.join("|");
    lines.push(
      mark("etcd-metrics"),
      `curl -sf --max-time 5 http://127.0.0.1:2381/metrics 2>/dev/null | grep -E '^(# (HELP|TYPE) )?(${families})(_bucket|_sum|_count)?[ {]' || echo '!unavailable'`,
      mark("journal"),
      "if ! command -v journalctl >/dev/null 2>&1; then echo '!absent'",
      "elif [ -z \"$(journalctl -q -n 1 --no-pager 2>/dev/null)\" ]; then echo '!empty'",
      "else journalctl -u k3s --since -24h -q --no-pager -o cat 2>/dev/null | awk '/slow fdatasync/ { slow++ } END { printf \"entries %d\\nslow %d\\n\", NR, slow }'; fi",
    );
  }
  return lines.join("\n") + "\n";
}

export interface FioScriptOptions {
  /** Longest fio may write, in seconds (fio's --runtime); it stops at 22 MiB before that. */
  readonly runtimeSeconds: number;
  /** Free space (KiB) the data directory's file system must keep beyond the test file. */
  readonly minFreeKiB: number;
  /** Default K3s's etcd data dir; another directory only for tests of the script itself. */
  readonly dataDir?: string;
}

/**
 * etcd's documented disk check (fio sequential 2300-byte writes, fdatasync after each, 22 MiB) on
 * the file system of K3s's etcd data dir, in a fresh directory there that is removed afterwards:
 * on success, on failure, on INT/TERM/HUP, and when the doctor goes away (a keepalive written to
 * stderr every second fails once the SSH session is closed). fio runs in a process group of its
 * own (setsid), so stopping it also stops whatever it started. Writes nothing else.
 */
export function renderFioScript(options: FioScriptOptions): string {
  const data = shellQuote(options.dataDir ?? ETCD_DATA_DIR);
  return (
    [
      "export LC_ALL=C",
      `DATA=${data}`,
      `${mark("fio-ready")}`,
      "if ! command -v fio >/dev/null 2>&1; then echo '!no-fio'; exit 0; fi",
      "if [ ! -d \"$DATA\" ]; then echo '!no-data-dir'; exit 0; fi",
      "FREE=$(df -Pk \"$DATA\" | awk 'NR == 2 { print $4 }')",
      `if [ "\${FREE:-0}" -lt ${options.minFreeKiB + 22 * 1024} ]; then echo "!no-space $FREE"; exit 0; fi`,
      "DIR=$(mktemp -d \"$DATA/.k3s-homelab-doctor-fio.XXXXXX\") || { echo '!mktemp'; exit 0; }",
      "FIO=",
      "# fio runs in its own process group: TERM the group, KILL it after 10 s, remove the dir.",
      "stop() {",
      '  if [ -n "$FIO" ]; then',
      '    kill -TERM -"$FIO" 2>/dev/null',
      "    n=0",
      '    while kill -0 -"$FIO" 2>/dev/null && [ "$n" -lt 10 ]; do sleep 1; n=$((n + 1)); done',
      '    kill -KILL -"$FIO" 2>/dev/null',
      "    FIO=",
      "  fi",
      '  rm -rf "$DIR"',
      "}",
      "trap stop EXIT",
      "trap 'stop; exit 129' HUP",
      "trap 'stop; exit 130' INT",
      "trap 'stop; exit 141' PIPE",
      "trap 'stop; exit 143' TERM",
      "echo ready",
      `${mark("fs")}; df -PT "$DATA" | awk 'NR == 2 { print $2, $1 }'`,
      `setsid fio --rw=write --ioengine=sync --fdatasync=1 --directory="$DIR" --size=22m --bs=2300 --name=k3s-homelab-doctor --output-format=json --runtime=${options.runtimeSeconds} --output="$DIR/result.json" >/dev/null 2>"$DIR/stderr" &`,
      "FIO=$!",
      "# A closed SSH session makes this write fail: stop fio and remove its file then.",
      'while kill -0 "$FIO" 2>/dev/null; do printf . >&2 || { stop; exit 141; }; sleep 1; done',
      'wait "$FIO"; RC=$?; FIO=',
      `${mark("fio-exit")}; echo "$RC"`,
      `${mark("fio-stderr")}; cat "$DIR/stderr" 2>/dev/null`,
      `${mark("fio")}; cat "$DIR/result.json" 2>/dev/null`,
      "stop; trap - EXIT",
      `${mark("removed")}; if [ -e "$DIR" ]; then echo no; else echo yes; fi`,
    ].join("\n") + "\n"
  );
}
