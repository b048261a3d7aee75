import * as assert from "assert";
import { nodeConfigYaml } from "../../components/K3sNode";
import { buildReport, DoctorInput } from "../../doctor/buildReport";
import { Check } from "../../doctor/check";
import { skewCheck } from "../../doctor/clusterChecks";
import { chooseWindow } from "../../doctor/etcdChecks";
import { fioRefusals } from "../../doctor/health";
import { EtcdMetrics } from "../../doctor/prometheus";
import { Bucket } from "../../doctor/quantile";
import { DoctorNodeReading } from "../../doctor/readings";
import { exitCode, Report } from "../../doctor/report";
import { DoctorState, nextState, readState, stateFile, writeState } from "../../doctor/state";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { buildClusterSpec, ClusterSpec, NodeSpec } from "../../config";
import { parseQmConfig } from "../../probe/observations";
import { validRaw } from "./fixtures";

const INF = Infinity;
const SPEC: ClusterSpec = buildClusterSpec(validRaw()).spec;
const desired = (node: NodeSpec) => nodeConfigYaml(SPEC, node, false);
const nodeSpec = (name: string) => SPEC.nodes.find((n) => n.name === name)!;

/** 1000 syncs: p50 rank 500 in [0, 1 ms] → 0.556 ms; p99 rank 990: 5 of the 15 in (2, 4] ms → 2.67 ms. */
const FAST: Bucket[] = [
  { le: 0.001, count: 900 },
  { le: 0.002, count: 985 },
  { le: 0.004, count: 1000 },
  { le: INF, count: 1000 },
];
/** 100 syncs all in (0.128, 0.256]: p99 = 0.128 + 0.128 × 99/100 = 254.72 ms. */
const SLOW: Bucket[] = [
  { le: 0.128, count: 0 },
  { le: 0.256, count: 100 },
  { le: INF, count: 100 },
];
const MEMBERS = [
  { id: "11", name: "k3s-vm-pve-1a2b3c4d", isLearner: false },
  { id: "12", name: "k3s-vm-piglet-5e6f7a8b", isLearner: false },
  { id: "13", name: "k3s-vm-fawn-9c0d1e2f", isLearner: false },
];
const API = [
  { name: "k3s-vm-pve", kubeletVersion: "v1.33.6+k3s1", ready: "True" },
  { name: "k3s-vm-piglet", kubeletVersion: "v1.32.4+k3s1", ready: "True" },
  { name: "k3s-vm-fawn", kubeletVersion: "v1.33.6+k3s1", ready: "Unknown" },
];
const SYSCTL_OK = {
  "vm.swappiness": "10",
  "vm.dirty_ratio": "5",
  "vm.dirty_background_ratio": "3",
};

function server(
  name: string,
  metrics: EtcdMetrics,
  extra: Partial<DoctorNodeReading["observation"]> = {},
  overrides: DoctorNodeReading["overrides"] = [],
): DoctorNodeReading {
  return {
    observation: {
      installedVersion: API.find((a) => a.name === name)!.kubeletVersion,
      service: { unit: "k3s", since: "Fri 2026-11-27 03:50:00 UTC" },
      configYaml: desired(nodeSpec(name)),
      sysctl: SYSCTL_OK,
      sysctlFile: "",
      apiNodes: API,
      etcdHealthy: true,
      etcdMembers: MEMBERS,
      etcdLeader: "11",
      etcdMemberId: "11",
      ...extra,
    },
    overrides,
    metrics,
    journal: { kind: "absent" },
  };
}

const vm = (vmid: number, current: string, pending: string, status = "running") => ({
  vmid,
  current: parseQmConfig(current),
  pending: parseQmConfig(pending),
  status,
});
const GOOD_DISK =
  "scsihw: virtio-scsi-single\nscsi0: local-zfs:vm-1-disk-0,cache=writeback,iothread=1,size=64G";

function input(overrides: Partial<DoctorInput> = {}): DoctorInput {
  return {
    stack: "test",
    at: "2026-11-27T05:00:00.000Z",
    spec: SPEC,
    desiredConfigYaml: desired,
    nodes: new Map<string, DoctorNodeReading | { unreachable: string }>([
      [
        "k3s-vm-pve",
        server("k3s-vm-pve", {
          walFsync: FAST,
          backendCommit: FAST,
          leaderChanges: 3,
          hasLeader: 1,
          dbSizeBytes: 4 * 1024 ** 2,
          quotaBytes: 2 * 1024 ** 3,
          startTime: 100,
        }),
      ],
      [
        "k3s-vm-piglet",
        server(
          "k3s-vm-piglet",
          { walFsync: SLOW, backendCommit: SLOW, leaderChanges: 1, hasLeader: 1, startTime: 200 },
          {
            configYaml: desired(nodeSpec("k3s-vm-piglet")).replace(
              "  - traefik",
              "  - traefik\n  - servicelb",
            ),
            sysctl: { ...SYSCTL_OK, "vm.swappiness": "60" },
          },
          [{ key: "vm.swappiness", file: "/etc/sysctl.conf", value: "60" }],
        ),
      ],
      ["k3s-vm-fawn", { unreachable: "cannot connect to 10.0.0.23:22: connect ECONNREFUSED" }],
    ]),
    hosts: new Map([
      ["pve", { vms: new Map([[105, vm(105, GOOD_DISK, GOOD_DISK)]]), txgLive: 3, txgBoot: 3 }],
      [
        "piglet",
        {
          vms: new Map([
            [
              106,
              vm(
                106,
                "scsihw: virtio-scsi-single\nscsi0: local-zfs:vm-106-disk-0,size=64G",
                GOOD_DISK,
              ),
            ],
          ]),
          txgLive: 5,
        },
      ],
      [
        "fawn",
        { vms: new Map([[108, vm(108, GOOD_DISK, GOOD_DISK, "stopped")]]), txgLive: 3, txgBoot: 3 },
      ],
    ]),
    ...overrides,
  };
}

function line(report: Report, section: string, name: string): Check {
  const found = report.sections
    .find((s) => s.name === section)
    ?.checks.find((c) => c.check === name);
  assert.ok(found, `no check \`${name}\` in ${section}`);
  return found;
}

describe("doctor: report from readings", () => {
  const report = buildReport(input());

  it("a healthy fast server is ok line by line", () => {
    const pve = report.sections.find((s) => s.name === "k3s-vm-pve")!;
    assert.deepStrictEqual(
      pve.checks.filter((c) => c.verdict !== "ok").map((c) => c.check),
      [],
    );
    assert.strictEqual(
      line(report, "k3s-vm-pve", "etcd wal fsync").value,
      "p50 0.56 ms, p99 2.7 ms (1000 since etcd start)",
    );
    assert.strictEqual(
      line(report, "k3s-vm-pve", "etcd leader").value,
      "leader k3s-vm-pve-1a2b3c4d",
    );
    assert.strictEqual(line(report, "k3s-vm-pve", "vm scsi0 cache").value, "writeback");
  });

  it("a slow member fails on WAL fsync and warns on commit", () => {
    const wal = line(report, "k3s-vm-piglet", "etcd wal fsync");
    assert.strictEqual(wal.verdict, "fail");
    assert.strictEqual(wal.value, "p50 192 ms, p99 255 ms (100 since etcd start)");
    assert.strictEqual(wal.data?.p99Ms, 254.72);
    assert.strictEqual(line(report, "k3s-vm-piglet", "etcd backend commit").verdict, "warn");
  });

  it("reports drift: version, must-match keys, sysctl and its override, pending disk, txg", () => {
    const version = line(report, "k3s-vm-piglet", "k3s version");
    assert.deepStrictEqual([version.value, version.verdict], ["v1.32.4+k3s1 (API)", "warn"]);
    const must = line(report, "k3s-vm-piglet", "config.yaml must-match keys");
    assert.deepStrictEqual(
      [must.value, must.verdict],
      ["disable: [traefik, servicelb] (want [traefik])", "warn"],
    );
    assert.strictEqual(line(report, "cluster", "must-match keys across servers").verdict, "fail");
    assert.strictEqual(line(report, "k3s-vm-piglet", "sysctl vm.swappiness").verdict, "warn");
    const override = line(report, "k3s-vm-piglet", "sysctl override vm.swappiness");
    assert.deepStrictEqual(
      [override.value, override.verdict],
      ["60 in /etc/sysctl.conf (applied after 99-etcd.conf at boot)", "warn"],
    );
    const cache = line(report, "k3s-vm-piglet", "vm scsi0 cache");
    assert.deepStrictEqual(
      [cache.value, cache.desired, cache.verdict],
      ["none (pending writeback: applies at qm reboot)", "writeback (restart owed)", "warn"],
    );
    assert.strictEqual(line(report, "piglet", "zfs_txg_timeout (live)").verdict, "warn");
    assert.strictEqual(
      line(report, "piglet", "zfs_txg_timeout (boot)").value,
      "not set (no /etc/modprobe.d/zz-k3s-homelab-zfs.conf)",
    );
    assert.strictEqual(line(report, "pve", "zfs_txg_timeout (boot)").verdict, "ok");
  });

  it("an unreachable node is one fail line; its VM is still read from the host", () => {
    const fawn = report.sections.find((s) => s.name === "k3s-vm-fawn")!;
    assert.deepStrictEqual(
      fawn.checks.map((c) => [c.check, c.verdict]),
      [
        ["ssh", "fail"],
        ["vm status", "fail"],
        ["vm scsi0 cache", "ok"],
        ["vm scsi0 iothread", "ok"],
        ["vm scsihw", "ok"],
      ],
    );
    assert.match(fawn.checks[0].value, /^unreachable: cannot connect/);
    assert.strictEqual(exitCode(report), 2);
  });

  it("cluster lines: version skew warns, the member list is the stack's", () => {
    const skew = line(report, "cluster", "k3s version skew");
    assert.deepStrictEqual(
      [skew.value, skew.verdict],
      ["v1.33.6+k3s1 (k3s-vm-pve, k3s-vm-fawn); v1.32.4+k3s1 (k3s-vm-piglet)", "warn"],
    );
    assert.strictEqual(line(report, "cluster", "etcd members").verdict, "ok");
  });

  it("servers more than one minor apart fail the skew check", () => {
    const running = new Map([
      ["k3s-vm-pve", "v1.33.6+k3s1"],
      ["k3s-vm-piglet", "v1.31.2+k3s1"],
      ["k3s-vm-fawn", "v1.33.6+k3s1"],
    ]);
    assert.strictEqual(skewCheck(SPEC, running).verdict, "fail");
    running.set("k3s-vm-piglet", "v1.33.6+k3s1");
    assert.strictEqual(skewCheck(SPEC, running).verdict, "ok");
  });

  it("a member that is no server of the stack warns", () => {
    const stranger = { id: "99", name: "old-node-abcdef", isLearner: false };
    const nodes = new Map(input().nodes);
    nodes.set("k3s-vm-pve", server("k3s-vm-pve", {}, { etcdMembers: [...MEMBERS, stranger] }));
    const r = buildReport(input({ nodes }));
    const members = line(r, "cluster", "etcd members");
    assert.strictEqual(members.verdict, "warn");
    assert.match(members.value, /not in the stack \(still voting\): old-node-abcdef \(99\)/);
  });

  it("a learner member warns: it does not vote until K3s promotes it", () => {
    const nodes = new Map(input().nodes);
    const learning = MEMBERS.map((m, i) => (i === 2 ? { ...m, isLearner: true } : m));
    nodes.set("k3s-vm-pve", server("k3s-vm-pve", {}, { etcdMembers: learning }));
    const members = line(buildReport(input({ nodes })), "cluster", "etcd members");
    assert.strictEqual(members.verdict, "warn");
    assert.match(
      members.value,
      new RegExp(
        `\\(1 learners\\).*; learner, not voting until K3s promotes it: ${learning[2].name}$`,
      ),
    );
  });

  it("never prints a token from config.yaml", () => {
    const nodes = new Map(input().nodes);
    nodes.set(
      "k3s-vm-pve",
      server("k3s-vm-pve", {}, { configYaml: "token: very-secret-token\ndisable:\n  - traefik\n" }),
    );
    const r = buildReport(input({ nodes }));
    assert.ok(!JSON.stringify(r).includes("very-secret-token"));
    assert.match(
      line(r, "k3s-vm-pve", "config.yaml must-match keys").value,
      /token: \(set\) \(want unset, token-file instead\)/,
    );
  });
});

describe("doctor: state between runs", () => {
  const before: DoctorState = nextState(
    "test",
    "2026-11-27T04:00:00.000Z",
    undefined,
    new Map([
      [
        "k3s-vm-pve",
        {
          walFsync: [
            { le: 0.001, count: 890 },
            { le: 0.002, count: 900 },
            { le: 0.004, count: 900 },
            { le: INF, count: 900 },
          ],
          leaderChanges: 1,
          startTime: 100,
        },
      ],
    ]),
  );

  it("judges the syncs since the last run and reports leader-change growth", () => {
    const r = buildReport(input({ previous: before }));
    // 100 new syncs: 10 ≤ 1 ms, 75 in (1, 2], 15 in (2, 4]. p99 rank 99: 0.002 + 0.002 × 14/15.
    const wal = line(r, "k3s-vm-pve", "etcd wal fsync");
    assert.strictEqual(wal.value, "p50 1.5 ms, p99 3.9 ms (100 since last run)");
    const changes = line(r, "k3s-vm-pve", "etcd leader changes");
    assert.deepStrictEqual(
      [changes.value, changes.verdict],
      ["3 (+2 since 2026-11-27T04:00:00.000Z)", "warn"],
    );
  });

  it("keeps bucket bounds, +Inf included, in its JSON file", () => {
    const dir = mkdtempSync(join(tmpdir(), "doctor-state-"));
    try {
      const file = stateFile(dir, "my/stack");
      assert.strictEqual(file, join(dir, "my_stack.json"));
      writeState(file, before);
      assert.deepStrictEqual(readState(file), before);
      assert.strictEqual(readState(join(dir, "none.json")), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("falls back to the lifetime histogram after a restart or with few new syncs", () => {
    assert.strictEqual(chooseWindow(FAST, FAST, true).basis, "since etcd start");
    assert.strictEqual(chooseWindow(FAST, SLOW, true).basis, "since etcd start");
    assert.strictEqual(
      chooseWindow(FAST, before.members["k3s-vm-pve"].walFsync, false).basis,
      "since etcd start",
    );
    const r = buildReport(
      input({
        previous: {
          ...before,
          members: { "k3s-vm-pve": { ...before.members["k3s-vm-pve"], startTime: 50 } },
        },
      }),
    );
    assert.match(
      line(r, "k3s-vm-pve", "etcd leader changes").value,
      /etcd restarted since the last run/,
    );
  });
});

describe("doctor: fio is refused while the cluster is unhealthy", () => {
  it("with an unreachable server, an unhealthy member or a node not Ready", () => {
    const i = input();
    const observed = {
      nodes: new Map(
        [...i.nodes].map(([n, r]) => [n, "unreachable" in r ? r : r.observation] as const),
      ),
      hosts: i.hosts,
    };
    const refusals = fioRefusals(SPEC, observed, desired);
    assert.ok(refusals.includes("node `k3s-vm-fawn` is unreachable"), refusals.join("\n"));
    assert.ok(
      refusals.some((p) => /NotReady/.test(p)),
      refusals.join("\n"),
    );
  });

  it("not when everything is healthy", () => {
    const healthy = API.map((a) => ({ ...a, kubeletVersion: "v1.33.6+k3s1", ready: "True" }));
    const nodes = new Map(
      SPEC.nodes.map(
        (n) => [n.name, server(n.name, {}, { apiNodes: healthy }).observation] as const,
      ),
    );
    assert.deepStrictEqual(fioRefusals(SPEC, { nodes, hosts: input().hosts }, desired), []);
  });
});
