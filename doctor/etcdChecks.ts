import { MIN_WINDOW_OBSERVATIONS } from "../config/etcdThresholds";
import { EtcdMember, NodeObservation } from "../probe/observations";
import { Check, check, formatBytes, formatMs } from "./check";
import { EtcdMetrics } from "./prometheus";
import { Bucket, bucketIncrease, histogramQuantile, observations } from "./quantile";
import { JournalReading } from "./readings";
import { MemberState } from "./state";
import {
  backendCommitVerdict,
  dbSizeVerdict,
  leaderChangesVerdict,
  slowFdatasyncVerdict,
  THRESHOLDS,
  walFsyncVerdict,
} from "./thresholds";

export interface Window {
  readonly buckets: readonly Bucket[];
  /** e.g. `since etcd start` or `since last run`. */
  readonly basis: string;
}

/**
 * The observations to judge: those since the last run when the same etcd process recorded
 * enough of them (MIN_WINDOW_OBSERVATIONS; like `rate()` over the time between runs), else all
 * since etcd started.
 */
export function chooseWindow(
  now: readonly Bucket[],
  before: readonly Bucket[] | undefined,
  sameProcess: boolean,
): Window {
  const increase = sameProcess && before ? bucketIncrease(before, now) : undefined;
  if (increase && observations(increase) >= MIN_WINDOW_OBSERVATIONS)
    return { buckets: increase, basis: "since last run" };
  return { buckets: now, basis: "since etcd start" };
}

function quantileText(q: number, buckets: readonly Bucket[]): { ms?: number; text: string } {
  const result = histogramQuantile(q, buckets);
  if (!result) return { text: "n/a" };
  const ms = result.value * 1000;
  return { ms, text: result.beyondLastBound ? `> ${formatMs(ms)}` : formatMs(ms) };
}

function histogramCheck(
  name: string,
  buckets: readonly Bucket[] | undefined,
  before: MemberState | undefined,
  sameProcess: boolean,
  withP50: boolean,
  desired: string,
  judge: (p99Ms: number) => Check["verdict"],
  pick: (m: MemberState) => readonly Bucket[] | undefined,
): Check {
  if (!buckets) return check(name, "not in etcd's metrics", desired, "warn");
  const window = chooseWindow(buckets, before ? pick(before) : undefined, sameProcess);
  const count = observations(window.buckets);
  if (count === 0) return check(name, `no syncs ${window.basis}`, desired, "ok", { count });
  const p50 = quantileText(0.5, window.buckets);
  const p99 = quantileText(0.99, window.buckets);
  const value = `${withP50 ? `p50 ${p50.text}, ` : ""}p99 ${p99.text} (${count} ${window.basis})`;
  return check(name, value, desired, judge(p99.ms!), {
    p50Ms: p50.ms ?? null,
    p99Ms: p99.ms ?? null,
    count,
    basis: window.basis,
  });
}

/** A member's name as K3s gives it: `<node name>-<random hex>`. */
export function memberOfNode(memberName: string, nodeName: string): boolean {
  return (
    memberName === nodeName ||
    (memberName.startsWith(`${nodeName}-`) &&
      /^[0-9a-f]+$/.test(memberName.slice(nodeName.length + 1)))
  );
}

export interface EtcdInput {
  readonly observation: NodeObservation;
  readonly metrics?: EtcdMetrics;
  readonly journal?: JournalReading;
  readonly before?: MemberState;
  /** Members as any server listed them (to name the leader). */
  readonly members?: readonly EtcdMember[];
}

/** The etcd lines of one server: health, leader, disk latency, leader changes, db size, journal. */
export function etcdChecks(input: EtcdInput): Check[] {
  const { observation: o, metrics: m, before } = input;
  const checks: Check[] = [
    check(
      "etcd health",
      o.etcdHealthy === undefined ? "not read" : o.etcdHealthy ? "healthy" : "unhealthy",
      "healthy (127.0.0.1:2381/health)",
      o.etcdHealthy === true ? "ok" : "fail",
    ),
  ];
  const leaderId = o.etcdLeader;
  const hasLeader =
    m?.hasLeader !== undefined ? m.hasLeader === 1 : leaderId !== undefined && leaderId !== "0";
  const leaderName = input.members?.find((x) => x.id === leaderId)?.name ?? leaderId;
  checks.push(
    check(
      "etcd leader",
      hasLeader ? `leader ${leaderName ?? "present"}` : "no leader",
      "a leader",
      hasLeader ? "ok" : "fail",
    ),
  );
  if (!m) {
    checks.push(check("etcd metrics", "127.0.0.1:2381/metrics did not answer", "readable", "fail"));
    return checks;
  }
  const sameProcess = before?.startTime !== undefined && before.startTime === m.startTime;
  checks.push(
    histogramCheck(
      "etcd wal fsync",
      m.walFsync,
      before,
      sameProcess,
      true,
      `p99 ≤ ${THRESHOLDS.walFsyncP99WarnMs} ms (fail > ${THRESHOLDS.walFsyncP99FailMs} ms)`,
      walFsyncVerdict,
      (s) => s.walFsync,
    ),
    histogramCheck(
      "etcd backend commit",
      m.backendCommit,
      before,
      sameProcess,
      false,
      `p99 ≤ ${THRESHOLDS.commitP99WarnMs} ms`,
      backendCommitVerdict,
      (s) => s.backendCommit,
    ),
    leaderChangesCheck(m, before, sameProcess),
    dbSizeCheck(m),
    journalCheck(input.journal),
  );
  return checks;
}

function leaderChangesCheck(
  m: EtcdMetrics,
  before: MemberState | undefined,
  sameProcess: boolean,
): Check {
  const desired = "no growth since the last run";
  if (m.leaderChanges === undefined)
    return check("etcd leader changes", "not in etcd's metrics", desired, "warn");
  let growth: number | undefined;
  let note: string;
  if (!before || before.leaderChanges === undefined) note = "first run: growth unknown";
  else if (!sameProcess || m.leaderChanges < before.leaderChanges)
    note = `etcd restarted since the last run (${before.at})`;
  else {
    growth = m.leaderChanges - before.leaderChanges;
    note = `+${growth} since ${before.at}`;
  }
  return check(
    "etcd leader changes",
    `${m.leaderChanges} (${note})`,
    desired,
    leaderChangesVerdict(growth),
    { total: m.leaderChanges, growth: growth ?? null },
  );
}

function dbSizeCheck(m: EtcdMetrics): Check {
  if (m.dbSizeBytes === undefined)
    return check("etcd db size", "not in etcd's metrics", "readable", "warn");
  const quota = m.quotaBytes && m.quotaBytes > 0 ? m.quotaBytes : 2 * 1024 ** 3;
  const share = m.dbSizeBytes / quota;
  return check(
    "etcd db size",
    `${formatBytes(m.dbSizeBytes)} (${(share * 100).toFixed(1)}% of ${formatBytes(quota)} quota)`,
    `< ${THRESHOLDS.dbQuotaWarn * 100}% of quota (fail ≥ ${THRESHOLDS.dbQuotaFail * 100}%)`,
    dbSizeVerdict(m.dbSizeBytes, quota),
    { bytes: m.dbSizeBytes, quotaBytes: quota },
  );
}

function journalCheck(journal: JournalReading | undefined): Check {
  const name = "slow fdatasync (24 h)";
  const desired = "0 lines (each is a sync ≥ 1 s)";
  if (!journal || journal.kind === "absent")
    return check(name, "journal not available (no journalctl)", desired, "ok");
  if (journal.kind === "empty")
    return check(name, "journal not available (no journal entries)", desired, "ok");
  if (journal.entries === 0)
    return check(name, "no k3s entries in the journal in 24 h", desired, "ok", { lines: 0 });
  return check(
    name,
    `${journal.slowFdatasync} lines in ${journal.entries} k3s entries`,
    desired,
    slowFdatasyncVerdict(journal.slowFdatasync),
    { lines: journal.slowFdatasync },
  );
}
