import { WAL_FSYNC_P99_FAIL_MS, WAL_FSYNC_P99_WARN_MS } from "../config/etcdThresholds";
import { Verdict } from "./check";

/** etcd's guidance (and the post's lesson 3): WAL fsync p99 under 10 ms, backend commit p99
 * under 25 ms. Above 100 ms a member misses heartbeats and elections follow. */
export const THRESHOLDS = {
  walFsyncP99WarnMs: WAL_FSYNC_P99_WARN_MS,
  walFsyncP99FailMs: WAL_FSYNC_P99_FAIL_MS,
  commitP99WarnMs: 25,
  /** etcd's documented fio check: fdatasync p99 under 10 ms. */
  fioP99WarnMs: 10,
  fioP99FailMs: 100,
  /** Share of etcd's backend quota (2 GiB by default) at which the db is reported. */
  dbQuotaWarn: 0.8,
  dbQuotaFail: 0.95,
} as const;

export function walFsyncVerdict(p99Ms: number): Verdict {
  if (p99Ms > THRESHOLDS.walFsyncP99FailMs) return "fail";
  return p99Ms > THRESHOLDS.walFsyncP99WarnMs ? "warn" : "ok";
}

export function backendCommitVerdict(p99Ms: number): Verdict {
  return p99Ms > THRESHOLDS.commitP99WarnMs ? "warn" : "ok";
}

export function fioVerdict(p99Ms: number): Verdict {
  if (p99Ms > THRESHOLDS.fioP99FailMs) return "fail";
  return p99Ms > THRESHOLDS.fioP99WarnMs ? "warn" : "ok";
}

export function dbSizeVerdict(sizeBytes: number, quotaBytes: number): Verdict {
  const share = sizeBytes / quotaBytes;
  if (share >= THRESHOLDS.dbQuotaFail) return "fail";
  return share >= THRESHOLDS.dbQuotaWarn ? "warn" : "ok";
}

/** Leader changes since the last run: any is worth a look (each is a pause of writes). */
export function leaderChangesVerdict(growth: number | undefined): Verdict {
  return growth !== undefined && growth > 0 ? "warn" : "ok";
}

/** "slow fdatasync" is logged only for syncs of 1 s or more: one in a day already hurt. */
export function slowFdatasyncVerdict(lines: number): Verdict {
  return lines > 0 ? "warn" : "ok";
}
