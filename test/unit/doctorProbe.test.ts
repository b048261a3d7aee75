import * as assert from "assert";
import { parseDoctorNodeProbe } from "../../doctor/readings";
import { renderDoctorNodeProbe, renderFioScript } from "../../probe/doctorScripts";
import { renderNodeProbe } from "../../probe/scripts";
import { assertGolden } from "./golden";

const KEYS = ["vm.swappiness", "vm.dirty_ratio"];

describe("doctor: remote scripts", () => {
  it("node probe for a server (golden)", () => {
    assertGolden("doctor-node-server.sh", renderDoctorNodeProbe(KEYS, true));
  });
  it("node probe for an agent (golden): no etcd, no journal", () => {
    const script = renderDoctorNodeProbe(KEYS, false);
    assertGolden("doctor-node-agent.sh", script);
    assert.ok(!script.includes("2381"), "an agent has no etcd");
  });
  it("starts with the preflight probe, unchanged", () => {
    assert.ok(renderDoctorNodeProbe(KEYS, true).startsWith(renderNodeProbe(KEYS, true)));
  });
  it("fio script (golden): etcd's check, the test dir removed on every way out", () => {
    const script = renderFioScript({ runtimeSeconds: 300, minFreeKiB: 262144 });
    assertGolden("doctor-fio.sh", script);
    assert.ok(
      script.includes(
        'fio --rw=write --ioengine=sync --fdatasync=1 --directory="$DIR" --size=22m --bs=2300',
      ),
    );
    for (const signal of ["EXIT", "HUP", "INT", "PIPE", "TERM"])
      assert.match(script, new RegExp(`^trap .* ${signal}$`, "m"));
  });
});

describe("doctor: node probe output", () => {
  const stdout = [
    "",
    "@@ k3s-version",
    "k3s version v1.33.6+k3s1 (abc)",
    "",
    "@@ service",
    "k3s active Fri 2026-11-27 03:50:00 UTC",
    "",
    "@@ sysctl",
    "vm.swappiness\t60",
    "",
    "@@ etcd-health",
    '{"health":"true"}',
    "",
    "@@ sysctl-override",
    "vm.swappiness\t/etc/sysctl.conf\t60",
    "vm.swappiness\t/etc/sysctl.conf\t60",
    "vm.dirty_ratio\t/etc/sysctl.d/99-zz.conf\t20",
    "",
    "@@ etcd-metrics",
    "# TYPE etcd_server_leader_changes_seen_total counter",
    "etcd_server_leader_changes_seen_total 3",
    "# TYPE etcd_disk_wal_fsync_duration_seconds histogram",
    'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 1',
    'etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 2',
    "etcd_disk_wal_fsync_duration_seconds_sum 0.5",
    "etcd_disk_wal_fsync_duration_seconds_count 2",
    "",
    "@@ journal",
    "entries 1200",
    "slow 2",
    "",
  ].join("\n");

  it("reads overrides (once per file), metrics and journal counts", () => {
    const r = parseDoctorNodeProbe(stdout);
    assert.strictEqual(r.observation.installedVersion, "v1.33.6+k3s1");
    assert.deepStrictEqual(r.overrides, [
      { key: "vm.swappiness", file: "/etc/sysctl.conf", value: "60" },
      { key: "vm.dirty_ratio", file: "/etc/sysctl.d/99-zz.conf", value: "20" },
    ]);
    assert.strictEqual(r.metrics?.leaderChanges, 3);
    assert.deepStrictEqual(r.metrics?.walFsync, [
      { le: 0.001, count: 1 },
      { le: Infinity, count: 2 },
    ]);
    assert.deepStrictEqual(r.journal, { kind: "read", entries: 1200, slowFdatasync: 2 });
  });

  it("knows when etcd's metrics or the journal are not there", () => {
    const r = parseDoctorNodeProbe("\n@@ etcd-metrics\n!unavailable\n\n@@ journal\n!absent\n");
    assert.strictEqual(r.metrics, undefined);
    assert.deepStrictEqual(r.journal, { kind: "absent" });
    assert.deepStrictEqual(parseDoctorNodeProbe("\n@@ journal\n!empty\n").journal, {
      kind: "empty",
    });
    assert.strictEqual(parseDoctorNodeProbe("\n@@ sysctl\n").journal, undefined);
  });
});
