/** One cumulative bucket of a Prometheus histogram: `count` observations were ≤ `le`. */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

export interface Quantile {
  /** Seconds (the histogram's unit). */
  readonly value: number;
  /** The rank fell into the +Inf bucket: `value` is only the highest finite bound, a lower bound. */
  readonly beyondLastBound: boolean;
}

/**
 * The q-quantile of a classic histogram the way PromQL's `histogram_quantile` computes it
 * (promql/quantile.go bucketQuantile): buckets sorted by bound, equal bounds merged, counts made
 * monotonic; linear interpolation inside the bucket holding rank q×total, with 0 as the lower edge
 * of the first bucket; a rank in the +Inf bucket gives the highest finite bound. Undefined where
 * Prometheus answers NaN: no +Inf bucket, fewer than two buckets, no observations.
 */
export function histogramQuantile(q: number, input: readonly Bucket[]): Quantile | undefined {
  if (Number.isNaN(q) || q < 0 || q > 1) throw new RangeError(`quantile ${q} is not in [0, 1]`);
  if (input.length === 0) return undefined;
  const sorted = [...input].sort((a, b) => a.le - b.le);
  if (sorted[sorted.length - 1].le !== Infinity) return undefined;
  const buckets: { le: number; count: number }[] = [];
  for (const b of sorted) {
    const last = buckets[buckets.length - 1];
    if (last && last.le === b.le) last.count += b.count;
    else buckets.push({ le: b.le, count: b.count });
  }
  let max = buckets[0].count;
  for (const b of buckets) {
    if (b.count < max) b.count = max;
    else max = b.count;
  }
  if (buckets.length < 2) return undefined;
  const total = buckets[buckets.length - 1].count;
  if (total === 0) return undefined;
  let rank = q * total;
  let i = buckets.findIndex((b, index) => index < buckets.length - 1 && b.count >= rank);
  if (i === -1) i = buckets.length - 1;
  if (i === buckets.length - 1) {
    return { value: buckets[buckets.length - 2].le, beyondLastBound: true };
  }
  if (i === 0 && buckets[0].le <= 0) return { value: buckets[0].le, beyondLastBound: false };
  let start = 0;
  let count = buckets[i].count;
  if (i > 0) {
    start = buckets[i - 1].le;
    count -= buckets[i - 1].count;
    rank -= buckets[i - 1].count;
  }
  return { value: start + (buckets[i].le - start) * (rank / count), beyondLastBound: false };
}

/** Observations recorded between two scrapes of the same histogram (as `increase()` would see
 * them), or undefined when any bucket went down: the process restarted in between. */
export function bucketIncrease(
  before: readonly Bucket[],
  after: readonly Bucket[],
): Bucket[] | undefined {
  if (before.length !== after.length) return undefined;
  const result: Bucket[] = [];
  for (const b of after) {
    const old = before.find((o) => o.le === b.le);
    if (!old || b.count < old.count) return undefined;
    result.push({ le: b.le, count: b.count - old.count });
  }
  return result;
}

/** Total observations of a histogram (its +Inf bucket). */
export function observations(buckets: readonly Bucket[]): number {
  return buckets.find((b) => b.le === Infinity)?.count ?? 0;
}
