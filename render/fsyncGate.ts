import { MIN_WINDOW_OBSERVATIONS } from "../config";
import { ETCD_FUNCTIONS } from "./etcdApi";
import { shellQuote } from "./shell";
import { header, RollTarget } from "./step";

/** Seconds between the two readings of a member's WAL fsync histogram that the gate judges. */
export const FSYNC_WINDOW_SECONDS = 15;

/** With fewer than MIN_WINDOW_OBSERVATIONS syncs in a window, the gate widens it (from the same
 * first reading) up to this many seconds before it says it cannot judge: a member whose syncs
 * take a second each records few of them. */
export const FSYNC_WIDEST_WINDOW_SECONDS = 60;

/** What the fsync gate holds the roll to. */
export interface FsyncLimits {
  /** `cluster.roll.maxFsyncP99Ms`: a member above this p99 holds the roll. */
  readonly maxP99Ms: number;
  /** How long a slow member may hold the roll before it stops (`gateTimeoutSeconds`). */
  readonly waitSeconds: number;
}

/** etcd prints `etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 51` lines, bounds
 * ascending and `+Inf` last (its histogram's buckets are 1 ms to 8192 ms, doubling). */
const BUCKETS_AWK =
  'index($0, "etcd_disk_wal_fsync_duration_seconds_bucket{") == 1 { le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le); print le, $2 }';

/**
 * The syncs between two readings (`b LE COUNT` lines, then `a LE COUNT` lines), judged as the
 * doctor's histogramQuantile (PromQL's bucketQuantile) judges them: counts made monotonic, the
 * bucket holding rank 0.99 × total interpolated linearly from the bound below it (0 for the
 * first), a rank in +Inf giving the highest finite bound as a lower bound. Prints `SYNCS ok P99`,
 * `SYNCS slow P99`, `SYNCS few`, `- restarted` (a bucket went down) or `- unreadable`; P99 as the
 * doctor's formatMs prints it.
 */
const WINDOW_AWK = [
  'function ms_text(ms) { if (ms < 1) return sprintf("%.2f ms", ms); if (ms < 10) return sprintf("%.1f ms", ms); return sprintf("%d ms", ms + 0.5) }',
  '$1 == "b" { old[$2] = $3; next }',
  '$1 == "a" { n++; le[n] = $2; if (!($2 in old) || $3 + 0 < old[$2] + 0) gone = 1; else cnt[n] = $3 - old[$2] }',
  "END {",
  '  if (n < 2 || le[n] != "+Inf") { print "- unreadable"; exit }',
  '  if (gone) { print "- restarted"; exit }',
  "  top = 0",
  "  for (i = 1; i <= n; i++) if (cnt[i] < top) cnt[i] = top; else top = cnt[i]",
  "  total = cnt[n]",
  '  if (total < min) { print total, "few"; exit }',
  "  rank = 0.99 * total",
  "  i = 1",
  "  while (i < n && cnt[i] < rank) i++",
  '  if (i == n) { print total, "slow", "> " ms_text(le[n - 1] * 1000); exit }',
  "  lo = 0; below = 0",
  "  if (i > 1) { lo = le[i - 1]; below = cnt[i - 1] }",
  "  if (i == 1 && le[1] + 0 <= 0) v = le[1] + 0",
  "  else v = lo + (le[i] - lo) * (rank - below) / (cnt[i] - below)",
  '  print total, (v * 1000 > max ? "slow" : "ok"), ms_text(v * 1000)',
  "}",
].join("\n");

/**
 * Runs on another server (`member`) before `target`'s roll changes anything: reads that server's
 * own etcd member's WAL fsync histogram on its loopback (K3s serves etcd's metrics nowhere else)
 * twice, FSYNC_WINDOW_SECONDS apart, and judges the p99 of the syncs in between. At most
 * `maxP99Ms`, the roll goes on; above it, the gate reads again window after window, saying so,
 * and fails after `waitSeconds`, before anything on `target` changed. Too few syncs, even in a
 * window widened to FSYNC_WIDEST_WINDOW_SECONDS, say nothing either way: the roll goes on.
 */
export function renderFsyncGateScript(
  target: RollTarget,
  member: string,
  limits: FsyncLimits,
): string {
  const wait = limits.waitSeconds;
  return [
    header(target, `fsync gate on ${member}`),
    `MEMBER=${shellQuote(member)}`,
    `MAX=${limits.maxP99Ms}`,
    ETCD_FUNCTIONS,
    "# This member's WAL fsync histogram as `LE COUNT` lines, in etcd's order.",
    `fsync_buckets() { etcd_local metrics | LC_ALL=C awk '${BUCKETS_AWK}'; }`,
    "# The syncs between two readings ($1, then $2), judged as PromQL's histogram_quantile(0.99).",
    "fsync_window() {",
    `  { printf '%s\\n' "$1" | sed 's/^/b /'; printf '%s\\n' "$2" | sed 's/^/a /'; } | LC_ALL=C awk -v max="$MAX" -v min=${MIN_WINDOW_OBSERVATIONS} '`,
    WINDOW_AWK,
    "'",
    "}",
    `say "reading $MEMBER's etcd WAL fsync for ${FSYNC_WINDOW_SECONDS} s before anything on $WHO changes (p99 at most $MAX ms, cluster.roll.maxFsyncP99Ms)"`,
    "begin=$(date +%s)",
    "base=$(fsync_buckets); base_at=$(date +%s)",
    "while :; do",
    `  sleep ${FSYNC_WINDOW_SECONDS}`,
    "  now=$(fsync_buckets); now_at=$(date +%s); span=$((now_at - base_at))",
    '  if [ -z "$base" ] || [ -z "$now" ]; then',
    "    syncs=-; verdict=unreadable; p99=''",
    "  else",
    "    read -r syncs verdict p99 <<EOF",
    '$(fsync_window "$base" "$now")',
    "EOF",
    "  fi",
    '  case "$verdict" in',
    "    ok)",
    '      say "$MEMBER\'s etcd WAL fsync p99 is $p99 over the last $span s ($syncs syncs; max $MAX ms)"',
    "      exit 0 ;;",
    "    few)",
    `      # Widen the window from the same first reading, up to ${FSYNC_WIDEST_WINDOW_SECONDS} s.`,
    `      if [ "$span" -lt ${FSYNC_WIDEST_WINDOW_SECONDS} ]; then continue; fi`,
    `      say "$MEMBER's etcd recorded only $syncs WAL syncs in the last $span s (fewer than ${MIN_WINDOW_OBSERVATIONS}): too few to judge its fsync p99; not holding the roll"`,
    "      exit 0 ;;",
    "    slow)",
    `      seen="$MEMBER's etcd WAL fsync p99 is $p99 over the last $span s ($syncs syncs; max $MAX ms, cluster.roll.maxFsyncP99Ms)"`,
    '      why="while the cluster\'s quorum is slow" ;;',
    "    restarted)",
    `      seen="$MEMBER's etcd restarted within the last $span s"`,
    `      why="without a reading of $MEMBER's WAL fsync" ;;`,
    "    *)",
    `      seen="cannot read $MEMBER's WAL fsync histogram (etcd_disk_wal_fsync_duration_seconds on 127.0.0.1:2381/metrics)"`,
    `      why="without a reading of $MEMBER's WAL fsync" ;;`,
    "  esac",
    "  base=$now; base_at=$now_at",
    "  elapsed=$(( $(date +%s) - begin ))",
    `  [ "$elapsed" -lt ${wait} ] || fail "$seen, still after waiting $elapsed s: refusing to restart $WHO $why; its roll did nothing: no snapshot, config.yaml, install, drain or restart"`,
    `  say "waiting ($elapsed s of ${wait} s): $seen"`,
    "done",
    "",
  ].join("\n");
}
