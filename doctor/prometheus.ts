// Typed here (the package ships no types), also while tsconfig does not list doctor/.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./parse-prometheus-text-format.d.ts" />
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { Bucket } from "./quantile";

/** The etcd series the doctor reads (all unlabelled in etcd 3.4 to 3.6). */
export const ETCD_SERIES = {
  walFsync: "etcd_disk_wal_fsync_duration_seconds",
  backendCommit: "etcd_disk_backend_commit_duration_seconds",
  leaderChanges: "etcd_server_leader_changes_seen_total",
  hasLeader: "etcd_server_has_leader",
  dbSize: "etcd_mvcc_db_total_size_in_bytes",
  quota: "etcd_server_quota_backend_bytes",
  startTime: "process_start_time_seconds",
} as const;

/** What the doctor needs from one etcd member's /metrics; a series it lacks is undefined. */
export interface EtcdMetrics {
  readonly walFsync?: Bucket[];
  readonly backendCommit?: Bucket[];
  readonly leaderChanges?: number;
  readonly hasLeader?: number;
  readonly dbSizeBytes?: number;
  readonly quotaBytes?: number;
  /** When the etcd process started (Unix seconds): histograms restart from zero with it. */
  readonly startTime?: number;
}

/** Go's `strconv.ParseFloat` spellings that Prometheus writes: `+Inf`, `-Inf`, `NaN`, `1e+09`. */
function toNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  const value = Number(text);
  return Number.isNaN(value) && text !== "NaN" ? undefined : value;
}

/**
 * Reads the doctor's series out of Prometheus text (parsed with parse-prometheus-text-format).
 * That parser merges the series of a labelled histogram into one, so a histogram with more than
 * one series, or without its `_count`, is refused (undefined) rather than misread.
 */
export function parseEtcdMetrics(text: string): EtcdMetrics {
  const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  const single = (name: string) => {
    const family = families.get(name);
    return family && family.metrics.length === 1 ? family.metrics[0] : undefined;
  };
  const histogram = (name: string): Bucket[] | undefined => {
    const sample = single(name);
    if (families.get(name)?.type !== "HISTOGRAM" || !sample?.buckets || sample.count === undefined)
      return undefined;
    const buckets = Object.entries(sample.buckets).map(([le, count]) => ({
      le: toNumber(le)!,
      count: toNumber(count)!,
    }));
    if (buckets.some((b) => b.le === undefined || b.count === undefined)) return undefined;
    return buckets.sort((a, b) => a.le - b.le);
  };
  const scalar = (name: string) => toNumber(single(name)?.value);
  return {
    walFsync: histogram(ETCD_SERIES.walFsync),
    backendCommit: histogram(ETCD_SERIES.backendCommit),
    leaderChanges: scalar(ETCD_SERIES.leaderChanges),
    hasLeader: scalar(ETCD_SERIES.hasLeader),
    dbSizeBytes: scalar(ETCD_SERIES.dbSize),
    quotaBytes: scalar(ETCD_SERIES.quota),
    startTime: scalar(ETCD_SERIES.startTime),
  };
}
