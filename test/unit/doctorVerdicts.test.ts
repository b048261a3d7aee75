import * as assert from "assert";
import { Check, formatMs, Section } from "../../doctor/check";
import { exitCode, renderJson, renderTable, Report, summaryLine } from "../../doctor/report";
import {
  backendCommitVerdict,
  dbSizeVerdict,
  fioVerdict,
  leaderChangesVerdict,
  slowFdatasyncVerdict,
  walFsyncVerdict,
} from "../../doctor/thresholds";

describe("doctor: verdict thresholds", () => {
  it("WAL fsync p99: ≤ 10 ms ok, > 10 ms warn, > 100 ms fail", () => {
    assert.strictEqual(walFsyncVerdict(3.45), "ok");
    assert.strictEqual(walFsyncVerdict(10), "ok");
    assert.strictEqual(walFsyncVerdict(10.1), "warn");
    assert.strictEqual(walFsyncVerdict(100), "warn");
    assert.strictEqual(walFsyncVerdict(150), "fail");
  });
  it("backend commit p99: ≤ 25 ms ok, above warn", () => {
    assert.strictEqual(backendCommitVerdict(1.93), "ok");
    assert.strictEqual(backendCommitVerdict(25.5), "warn");
    assert.strictEqual(backendCommitVerdict(900), "warn");
  });
  it("fio fdatasync p99: ≤ 10 ms ok, > 10 ms warn, > 100 ms fail", () => {
    assert.strictEqual(fioVerdict(0.27), "ok");
    assert.strictEqual(fioVerdict(12), "warn");
    assert.strictEqual(fioVerdict(151), "fail");
  });
  it("db size against the quota: < 80% ok, ≥ 80% warn, ≥ 95% fail", () => {
    const quota = 2 * 1024 ** 3;
    assert.strictEqual(dbSizeVerdict(24576, quota), "ok");
    assert.strictEqual(dbSizeVerdict(0.8 * quota, quota), "warn");
    assert.strictEqual(dbSizeVerdict(0.96 * quota, quota), "fail");
  });
  it("leader changes: growth warns, none or unknown is ok", () => {
    assert.strictEqual(leaderChangesVerdict(0), "ok");
    assert.strictEqual(leaderChangesVerdict(undefined), "ok");
    assert.strictEqual(leaderChangesVerdict(2), "warn");
  });
  it("slow fdatasync journal lines: any warns", () => {
    assert.strictEqual(slowFdatasyncVerdict(0), "ok");
    assert.strictEqual(slowFdatasyncVerdict(1), "warn");
  });
  it("formats milliseconds by size", () => {
    assert.deepStrictEqual([0.27238, 3.45, 42.4, 150.2].map(formatMs), [
      "0.27 ms",
      "3.5 ms",
      "42 ms",
      "150 ms",
    ]);
  });
});

const line = (verdict: Check["verdict"]): Check => ({
  check: "c",
  value: "v",
  desired: "d",
  verdict,
});
const report = (...verdicts: Check["verdict"][]): Report => ({
  stack: "lab",
  at: "2026-11-27T04:00:00.000Z",
  sections: [{ kind: "node", name: "n", checks: verdicts.map(line) }],
  notes: [],
});

describe("doctor: exit codes and output", () => {
  it("0 when all ok, 1 with a warn, 2 with a fail", () => {
    assert.strictEqual(exitCode(report("ok", "ok")), 0);
    assert.strictEqual(exitCode(report("ok", "warn")), 1);
    assert.strictEqual(exitCode(report("warn", "fail", "ok")), 2);
    assert.strictEqual(exitCode(report()), 0);
  });

  it("renders aligned tables per section and a summary line", () => {
    const sections: Section[] = [
      {
        kind: "cluster",
        name: "cluster",
        checks: [
          { check: "k3s version skew", value: "v1.33.6+k3s1", desired: "one", verdict: "ok" },
        ],
      },
      {
        kind: "node",
        name: "k3s-vm-pve",
        about: "server, VM 105 on pve",
        checks: [
          { check: "etcd wal fsync", value: "p99 150 ms", desired: "p99 ≤ 10 ms", verdict: "fail" },
        ],
      },
      {
        kind: "host",
        name: "pve",
        checks: [{ check: "zfs_txg_timeout (live)", value: "5", desired: "3", verdict: "warn" }],
      },
    ];
    const r: Report = { stack: "lab", at: "2026-11-27T04:00:00.000Z", sections, notes: ["x"] };
    assert.strictEqual(
      renderTable(r),
      [
        "doctor: stack lab, read 2026-11-27T04:00:00.000Z",
        "NODE        CHECK                   VALUE         DESIRED/THRESHOLD  VERDICT",
        "",
        "cluster",
        "cluster     k3s version skew        v1.33.6+k3s1  one                ok",
        "",
        "k3s-vm-pve (server, VM 105 on pve)",
        "k3s-vm-pve  etcd wal fsync          p99 150 ms    p99 ≤ 10 ms        fail",
        "",
        "host pve",
        "host pve    zfs_txg_timeout (live)  5             3                  warn",
        "",
        "note: x",
        "summary: 1 nodes, 1 hosts: 1 ok, 1 warn, 1 fail (exit 2)",
        "",
      ].join("\n"),
    );
    assert.strictEqual(summaryLine(r), "summary: 1 nodes, 1 hosts: 1 ok, 1 warn, 1 fail (exit 2)");
    const json = JSON.parse(renderJson(r));
    assert.deepStrictEqual(json.summary, { ok: 1, warn: 1, fail: 1 });
    assert.strictEqual(json.exitCode, 2);
    assert.strictEqual(json.sections[1].checks[0].verdict, "fail");
  });
});
