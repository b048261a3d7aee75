/** What one fio run of etcd's disk check measured: the latency of fdatasync after each write. */
export interface FioResult {
  readonly fioVersion: string;
  /** fdatasync latencies in milliseconds. */
  readonly syncP50Ms: number;
  readonly syncP99Ms: number;
  readonly syncMaxMs: number;
  readonly syncs: number;
  /** Bytes written; less than the size asked for when fio stopped at its runtime cap. */
  readonly writtenBytes: number;
  readonly writeIops: number;
  readonly runtimeMs: number;
}

type Json = Record<string, unknown>;

function object(value: unknown, what: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`fio JSON: ${what} is missing`);
  return value as Json;
}

function number(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value))
    throw new Error(`fio JSON: ${what} is not a number`);
  return value;
}

/** fio writes percentiles as keys like "99.000000"; finds the one for `p`. */
function percentile(percentiles: Json, p: number, what: string): number {
  const entry = Object.entries(percentiles).find(([key]) => Math.abs(Number(key) - p) < 1e-9);
  if (!entry) throw new Error(`fio JSON: ${what} has no ${p}th percentile`);
  return number(entry[1], `${what} ${p}th percentile`);
}

/**
 * Parses `fio --output-format=json` of etcd's disk check (one job, `--fdatasync=1`). The sync
 * latencies are `jobs[0].sync.lat_ns` (fio ≥ 3.5). Throws with what is missing, so a changed or
 * failed fio run is reported, never misread as a fast disk.
 */
export function parseFioJson(text: string): FioResult {
  let document: Json;
  try {
    document = object(JSON.parse(text), "the document");
  } catch (error) {
    if (error instanceof SyntaxError) throw new Error(`fio JSON: not JSON: ${error.message}`);
    throw error;
  }
  const jobs = document.jobs;
  if (!Array.isArray(jobs) || jobs.length !== 1)
    throw new Error("fio JSON: expected exactly one job");
  const job = object(jobs[0], "jobs[0]");
  if (job.error !== undefined && job.error !== 0)
    throw new Error(`fio JSON: the job failed with error ${String(job.error)}`);
  const sync = object(object(job.sync, "jobs[0].sync").lat_ns, "jobs[0].sync.lat_ns");
  const syncs = number(sync.N, "sync.lat_ns.N");
  if (syncs === 0) throw new Error("fio JSON: no fdatasync was measured (was --fdatasync=1 set?)");
  const percentiles = object(sync.percentile, "sync.lat_ns.percentile");
  const write = object(job.write, "jobs[0].write");
  const ms = (ns: number) => ns / 1e6;
  return {
    fioVersion: String(document["fio version"] ?? "unknown"),
    syncP50Ms: ms(percentile(percentiles, 50, "sync.lat_ns")),
    syncP99Ms: ms(percentile(percentiles, 99, "sync.lat_ns")),
    syncMaxMs: ms(number(sync.max, "sync.lat_ns.max")),
    syncs,
    writtenBytes: number(write.io_bytes, "write.io_bytes"),
    writeIops: number(write.iops, "write.iops"),
    runtimeMs: number(job.job_runtime, "jobs[0].job_runtime"),
  };
}
