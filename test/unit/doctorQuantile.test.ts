import * as assert from "assert";
import { readFileSync } from "fs";
import { join } from "path";
import { parseEtcdMetrics } from "../../doctor/prometheus";
import { Bucket, bucketIncrease, histogramQuantile, observations } from "../../doctor/quantile";

const INF = Infinity;
const b = (pairs: [number, number][]): Bucket[] => pairs.map(([le, count]) => ({ le, count }));

/** Equal up to float rounding: the expected numbers are worked out by hand below. */
function near(actual: number | undefined, expected: number): void {
  assert.ok(actual !== undefined, "no quantile");
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} is not ${expected}`);
}

describe("doctor: histogram_quantile as Prometheus computes it", () => {
  it("interpolates inside the first bucket from 0", () => {
    // 0.001:51 0.002:53 0.004:55 +Inf:55. p50: rank 27.5 in [0, 0.001] → 0.001 × 27.5/51.
    const h = b([
      [0.001, 51],
      [0.002, 53],
      [0.004, 55],
      [INF, 55],
    ]);
    near(histogramQuantile(0.5, h)?.value, 0.001 * (27.5 / 51));
    // p99: rank 54.45 in (0.002, 0.004], 2 observations there, 1.45 of them → 0.002 + 0.002 × 0.725.
    near(histogramQuantile(0.99, h)?.value, 0.00345);
    assert.strictEqual(histogramQuantile(0.99, h)?.beyondLastBound, false);
  });

  it("interpolates linearly inside a middle bucket", () => {
    const h = b([
      [1, 10],
      [2, 20],
      [INF, 20],
    ]);
    near(histogramQuantile(0.25, h)?.value, 0.5); // rank 5 of 10 in [0, 1]
    near(histogramQuantile(0.75, h)?.value, 1.5); // rank 15: 5 of the 10 in (1, 2]
  });

  it("returns the highest finite bound when the rank falls into +Inf", () => {
    const h = b([
      [0.1, 1],
      [0.2, 2],
      [INF, 10],
    ]);
    assert.deepStrictEqual(histogramQuantile(0.99, h), { value: 0.2, beyondLastBound: true });
    assert.deepStrictEqual(histogramQuantile(0.5, h), { value: 0.2, beyondLastBound: true });
  });

  it("sorts, merges equal bounds and forces monotonic counts first", () => {
    // 1:1 + 1:1 → 1:2; then 2:3, +Inf:4. p50 rank 2 is the whole first bucket → 1.
    near(
      histogramQuantile(
        0.5,
        b([
          [INF, 4],
          [1, 1],
          [2, 3],
          [1, 1],
        ]),
      )?.value,
      1,
    );
    // 1:5 2:3 4:8 → 2:5. p75 rank 6: (2, 4] holds 3, 1 of them → 2 + 2/3.
    near(
      histogramQuantile(
        0.75,
        b([
          [1, 5],
          [2, 3],
          [4, 8],
          [INF, 8],
        ]),
      )?.value,
      2 + 2 / 3,
    );
  });

  it("returns a first bound ≤ 0 as is", () => {
    near(
      histogramQuantile(
        0.25,
        b([
          [0, 2],
          [1, 4],
          [INF, 4],
        ]),
      )?.value,
      0,
    );
  });

  it("has no answer where Prometheus says NaN", () => {
    assert.strictEqual(
      histogramQuantile(
        0.5,
        b([
          [1, 1],
          [2, 2],
        ]),
      ),
      undefined,
    ); // no +Inf
    assert.strictEqual(histogramQuantile(0.5, b([[INF, 3]])), undefined); // one bucket
    assert.strictEqual(
      histogramQuantile(
        0.5,
        b([
          [1, 0],
          [INF, 0],
        ]),
      ),
      undefined,
    ); // empty
    assert.strictEqual(histogramQuantile(0.5, []), undefined);
    assert.throws(
      () =>
        histogramQuantile(
          1.5,
          b([
            [1, 1],
            [INF, 1],
          ]),
        ),
      /not in \[0, 1\]/,
    );
  });

  it("counts what was observed between two scrapes, and sees a restart", () => {
    const before = b([
      [0.001, 10],
      [0.01, 12],
      [INF, 12],
    ]);
    const after = b([
      [0.001, 10],
      [0.01, 15],
      [INF, 40],
    ]);
    assert.deepStrictEqual(
      bucketIncrease(before, after),
      b([
        [0.001, 0],
        [0.01, 3],
        [INF, 28],
      ]),
    );
    assert.strictEqual(bucketIncrease(after, before), undefined);
    assert.strictEqual(observations(after), 40);
  });

  it("reads a real etcd 3.4.23 scrape (parse-prometheus-text-format) and its p50/p99", () => {
    const text = readFileSync(
      join(__dirname, "doctor-fixtures", "etcd-3.4.23-metrics.txt"),
      "utf8",
    );
    const m = parseEtcdMetrics(text);
    assert.strictEqual(m.walFsync?.length, 15);
    assert.strictEqual(observations(m.walFsync!), 55);
    near(histogramQuantile(0.5, m.walFsync!)?.value, 0.001 * (27.5 / 51));
    near(histogramQuantile(0.99, m.walFsync!)?.value, 0.00345);
    // commit: 0.001:12 0.002:14 of 14; p99 rank 13.86 → 0.001 + 0.001 × 1.86/2.
    near(histogramQuantile(0.99, m.backendCommit!)?.value, 0.00193);
    assert.strictEqual(m.leaderChanges, 1);
    assert.strictEqual(m.hasLeader, 1);
    assert.strictEqual(m.dbSizeBytes, 24576);
    assert.strictEqual(m.quotaBytes, 2147483648);
    assert.strictEqual(m.startTime, 1795752767.21);
  });

  it("refuses a labelled histogram, which the parser would merge into one", () => {
    const text = [
      "# TYPE etcd_disk_wal_fsync_duration_seconds histogram",
      'etcd_disk_wal_fsync_duration_seconds_bucket{disk="a",le="1"} 1',
      'etcd_disk_wal_fsync_duration_seconds_bucket{disk="a",le="+Inf"} 2',
      'etcd_disk_wal_fsync_duration_seconds_count{disk="a"} 2',
      'etcd_disk_wal_fsync_duration_seconds_bucket{disk="b",le="1"} 5',
      'etcd_disk_wal_fsync_duration_seconds_bucket{disk="b",le="+Inf"} 9',
      'etcd_disk_wal_fsync_duration_seconds_count{disk="b"} 9',
      "",
    ].join("\n");
    assert.strictEqual(parseEtcdMetrics(text).walFsync, undefined);
  });
});
