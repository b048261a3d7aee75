import * as assert from "assert";
import { spawnSync } from "child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { formatMs } from "../../doctor/check";
import { bucketIncrease, Bucket, histogramQuantile } from "../../doctor/quantile";
import { renderFsyncGateScript, RollTarget } from "../../render";

/** etcd's WAL fsync buckets (ExponentialBuckets(0.001, 2, 14) in server/storage/wal/metrics.go). */
const BOUNDS = [...Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i), Infinity];

/** A cumulative histogram: count of syncs at or under each bound. */
type Histogram = number[];
const empty = (): Histogram => BOUNDS.map(() => 0);
/** `n` more syncs of `seconds` each. */
const add = (h: Histogram, seconds: number, n: number): Histogram =>
  h.map((count, i) => (BOUNDS[i] >= seconds ? count + n : count));

/** The metrics page etcd serves on 127.0.0.1:2381, as far as the gate reads it. */
function metricsPage(h: Histogram): string {
  const le = (b: number) => (b === Infinity ? "+Inf" : String(Number(b.toPrecision(4))));
  return [
    "# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.",
    "# TYPE etcd_disk_wal_fsync_duration_seconds histogram",
    ...BOUNDS.map((b, i) => `etcd_disk_wal_fsync_duration_seconds_bucket{le="${le(b)}"} ${h[i]}`),
    `etcd_disk_wal_fsync_duration_seconds_count ${h[h.length - 1]}`,
    "etcd_server_has_leader 1",
    "",
  ].join("\n");
}

/** Stubs: `curl` answers 127.0.0.1:2381/metrics with scrape.N in turn (the last one repeats; a
 * missing page is a refused connection), `sleep` moves the clock that `date +%s` reads. */
const STUBS: Record<string, string> = {
  curl: `#!/bin/sh
for a in "$@"; do url=$a; done
[ "$url" = http://127.0.0.1:2381/metrics ] || exit 7
n=$(cat "$D/n"); echo $((n + 1)) > "$D/n"
f="$D/scrape.$n"; [ -f "$f" ] || f=$(ls "$D"/scrape.* 2>/dev/null | sort -t. -k2 -n | tail -n 1)
[ -n "$f" ] && [ -s "$f" ] || exit 7
cat "$f"
`,
  date: '#!/bin/sh\ncat "$D/clock"\n',
  sleep: '#!/bin/sh\necho $(( $(cat "$D/clock") + $1 )) > "$D/clock"\n',
};

const TARGET: RollTarget = {
  node: "k3s-vm-piglet",
  nodeName: "k3s-vm-piglet",
  role: "server",
  k3sVersion: "v1.33.6+k3s1",
  fingerprint: "f00",
};

/** Runs the gate for k3s-vm-piglet on k3s-vm-fawn against scrapes (undefined: not answering). */
function runGate(scrapes: (Histogram | undefined)[], maxP99Ms = 100, waitSeconds = 45) {
  const dir = mkdtempSync(join(tmpdir(), "k3s-homelab-fsync-"));
  for (const [name, text] of Object.entries(STUBS)) {
    writeFileSync(join(dir, name), text);
    chmodSync(join(dir, name), 0o755);
  }
  writeFileSync(join(dir, "n"), "0\n");
  writeFileSync(join(dir, "clock"), "1000\n");
  scrapes.forEach((h, i) => writeFileSync(join(dir, `scrape.${i}`), h ? metricsPage(h) : ""));
  const script = renderFsyncGateScript(TARGET, "k3s-vm-fawn", { maxP99Ms, waitSeconds });
  const result = spawnSync("sh", ["-c", script], {
    encoding: "utf8",
    env: { PATH: `${dir}:/usr/bin:/bin`, D: dir },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const READING =
  "k3s-vm-piglet: reading k3s-vm-fawn's etcd WAL fsync for 15 s before anything on k3s-vm-piglet changes (p99 at most 100 ms, cluster.roll.maxFsyncP99Ms)";

/** A member that has synced for a while at 2 ms, then `n` syncs of `seconds` per 15 s window. */
function windows(seconds: number, n: number, count: number, start = add(empty(), 0.0015, 5000)) {
  const scrapes = [start];
  for (let i = 0; i < count; i++) scrapes.push(add(scrapes[scrapes.length - 1], seconds, n));
  return scrapes;
}

/** What the doctor prints for the p99 of the syncs between two scrapes. */
function doctorP99(before: Histogram, after: Histogram): string {
  const buckets = (h: Histogram): Bucket[] => BOUNDS.map((le, i) => ({ le, count: h[i] }));
  const q = histogramQuantile(0.99, bucketIncrease(buckets(before), buckets(after))!)!;
  return `${q.beyondLastBound ? "> " : ""}${formatMs(q.value * 1000)}`;
}

describe("fsync gate, run against a stubbed etcd metrics page", () => {
  it("lets the roll go on when the member's p99 over the window is under the maximum", () => {
    const scrapes = windows(0.003, 60, 1);
    const r = runGate(scrapes);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(
      r.stdout,
      `${READING}\nk3s-vm-piglet: k3s-vm-fawn's etcd WAL fsync p99 is 4.0 ms over the last 15 s (60 syncs; max 100 ms)\n`,
    );
    assert.strictEqual(doctorP99(scrapes[0], scrapes[1]), "4.0 ms");
  });

  it("judges only the window: a slow past since etcd started does not hold the roll", () => {
    const r = runGate(windows(0.003, 60, 1, add(empty(), 0.2, 5000)));
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /p99 is 4\.0 ms over the last 15 s \(60 syncs; max 100 ms\)\n$/);
  });

  it("waits with a line per window naming the member and its p99, and goes on once it is fast", () => {
    const slow = windows(0.15, 60, 2);
    const scrapes = [...slow, add(slow[2], 0.003, 60)];
    const r = runGate(scrapes);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(
      r.stdout,
      [
        READING,
        "k3s-vm-piglet: waiting (15 s of 45 s): k3s-vm-fawn's etcd WAL fsync p99 is 255 ms over the last 15 s (60 syncs; max 100 ms, cluster.roll.maxFsyncP99Ms)",
        "k3s-vm-piglet: waiting (30 s of 45 s): k3s-vm-fawn's etcd WAL fsync p99 is 255 ms over the last 15 s (60 syncs; max 100 ms, cluster.roll.maxFsyncP99Ms)",
        "k3s-vm-piglet: k3s-vm-fawn's etcd WAL fsync p99 is 4.0 ms over the last 15 s (60 syncs; max 100 ms)",
        "",
      ].join("\n"),
    );
    assert.strictEqual(doctorP99(slow[0], slow[1]), "255 ms");
  });

  it("stops the roll after the wait, naming the member and the figure, before anything changed", () => {
    const r = runGate(windows(0.15, 60, 3));
    assert.strictEqual(r.status, 1);
    assert.strictEqual(
      r.stderr,
      "k3s-vm-piglet: FAILED: k3s-vm-fawn's etcd WAL fsync p99 is 255 ms over the last 15 s (60 syncs; max 100 ms, cluster.roll.maxFsyncP99Ms), still after waiting 45 s: refusing to restart k3s-vm-piglet while the cluster's quorum is slow; its roll did nothing: no snapshot, config.yaml, install, drain or restart\n",
    );
    assert.strictEqual(r.stdout.split("\n").filter((l) => l.includes("waiting (")).length, 2);
  });

  it("holds to cluster.roll.maxFsyncP99Ms: the same member passes under a higher maximum", () => {
    const r = runGate(windows(0.15, 60, 1), 300);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /p99 is 255 ms over the last 15 s \(60 syncs; max 300 ms\)\n$/);
  });

  it("a p99 past etcd's last bucket (8192 ms) is a lower bound, and slow whatever the maximum", () => {
    const r = runGate(windows(10, 60, 3), 8192);
    assert.strictEqual(r.status, 1);
    assert.match(r.stderr, /k3s-vm-fawn's etcd WAL fsync p99 is > 8192 ms over the last 15 s/);
  });

  it("widens a window with too few syncs, and judges once there are enough", () => {
    const r = runGate(windows(0.15, 10, 4));
    assert.strictEqual(r.status, 1);
    assert.match(
      r.stdout,
      /waiting \(30 s of 45 s\): k3s-vm-fawn's etcd WAL fsync p99 is 255 ms over the last 30 s \(20 syncs; /,
    );
  });

  it("with too few syncs even over 60 s, says so and does not hold the roll", () => {
    const r = runGate(windows(0.15, 3, 4));
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(
      r.stdout,
      `${READING}\nk3s-vm-piglet: k3s-vm-fawn's etcd recorded only 12 WAL syncs in the last 60 s (fewer than 20): too few to judge its fsync p99; not holding the roll\n`,
    );
  });

  it("starts the window again when the member's etcd restarted between two readings", () => {
    const before = add(empty(), 0.0015, 5000);
    const restarted = add(empty(), 0.0015, 10);
    const r = runGate([before, restarted, add(restarted, 0.003, 60)]);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(
      r.stdout,
      [
        READING,
        "k3s-vm-piglet: waiting (15 s of 45 s): k3s-vm-fawn's etcd restarted within the last 15 s",
        "k3s-vm-piglet: k3s-vm-fawn's etcd WAL fsync p99 is 4.0 ms over the last 15 s (60 syncs; max 100 ms)",
        "",
      ].join("\n"),
    );
  });

  it("fails after the wait when the member's metrics do not answer", () => {
    const r = runGate([undefined]);
    assert.strictEqual(r.status, 1);
    assert.strictEqual(
      r.stderr,
      "k3s-vm-piglet: FAILED: cannot read k3s-vm-fawn's WAL fsync histogram (etcd_disk_wal_fsync_duration_seconds on 127.0.0.1:2381/metrics), still after waiting 45 s: refusing to restart k3s-vm-piglet without a reading of k3s-vm-fawn's WAL fsync; its roll did nothing: no snapshot, config.yaml, install, drain or restart\n",
    );
  });

  it("computes the p99 the doctor computes, from the first bucket to the last", () => {
    // Mixed windows: most syncs fast, a tail in a slower bucket, p99 in each part of the range.
    const cases: [number, number][][] = [
      [[0.0004, 100]],
      [
        [0.0015, 50],
        [0.02, 3],
      ],
      [
        [0.003, 400],
        [0.05, 4],
        [0.4, 1],
      ],
      [
        [0.9, 30],
        [3, 30],
      ],
      [
        [0.006, 1000],
        [6, 11],
      ],
    ];
    for (const syncs of cases) {
      const before = add(empty(), 0.0015, 777);
      const after = syncs.reduce((h, [s, n]) => add(h, s, n), before);
      const r = runGate([before, after], 8192);
      const expected = doctorP99(before, after);
      assert.match(
        r.stdout + r.stderr,
        new RegExp(`p99 is ${expected.replace(/[.>]/g, "\\$&")} over the last 15 s`),
        `${JSON.stringify(syncs)}: the doctor says ${expected}`,
      );
    }
  });
});
