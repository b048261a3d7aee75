import * as assert from "assert";
import { renderK3sConfig } from "../../render";
import { buildClusterSpec, ClusterSpec, NodeSpec } from "../../config";
import {
  formatPlan,
  fsyncGateLine,
  Observed,
  preflight,
  keepSettling,
  restartingVms,
  RollOverrides,
  settleLine,
} from "../../plan";
import {
  HostObservation,
  NodeObservation,
  StorageEntry,
  VmObservation,
} from "../../probe/observations";
import { validRaw } from "./fixtures";

const NO_OVERRIDES: RollOverrides = {
  allowTwoServers: false,
  allowAgentMinorSkip: false,
  repair: false,
};

function desiredYaml(spec: ClusterSpec) {
  return (node: NodeSpec) =>
    renderK3sConfig({
      role: node.role,
      registrationAddress: spec.registrationAddress,
      serverConfig: spec.serverConfig,
      nodeConfig: node.config,
      hasAgentToken: false,
    });
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A cluster that already is in the desired state, healthy, as the probe would read it. */
function converged(spec: ClusterSpec) {
  const nodes = new Map<string, Mutable<NodeObservation>>();
  const hosts = new Map<string, HostObservation>();
  const apiNodes = spec.nodes.map((n) => ({
    name: n.nodeName,
    kubeletVersion: n.k3sVersion,
    ready: "True",
  }));
  const members = spec.nodes
    .filter((n) => n.role === "server")
    .map((n, i) => ({ id: String(i + 1), name: `${n.nodeName}-0a1b2c3d`, isLearner: false }));
  for (const node of spec.nodes) {
    nodes.set(node.name, {
      installedVersion: node.k3sVersion,
      service: {
        unit: node.role === "server" ? "k3s" : "k3s-agent",
        since: "Fri 2026-11-27 03:00:00 UTC",
      },
      configYaml: desiredYaml(spec)(node),
      sysctl: { ...spec.sysctl },
      sysctlFile: "",
      ...(node.role === "server"
        ? { apiNodes, etcdHealthy: true, etcdMembers: members, etcdLeader: "1", etcdMemberId: "1" }
        : {}),
    });
  }
  for (const host of spec.hosts) {
    const vms = new Map(
      spec.nodes
        .filter((n) => n.host === host.name)
        .map((n) => {
          const config = {
            scsihw: "virtio-scsi-single",
            [n.disk]: `local-zfs:vm-${n.vmid}-disk-0,cache=writeback,iothread=1,size=64G`,
          };
          return [
            n.vmid,
            { vmid: n.vmid, current: config, pending: config, status: "running" },
          ] as const;
        }),
    );
    hosts.set(host.name, { vms, txgLive: 3, txgBoot: 3 });
  }
  return { nodes, hosts };
}

function run(spec: ClusterSpec, observed: Observed, overrides = NO_OVERRIDES) {
  return preflight(spec, observed, desiredYaml(spec), overrides);
}

describe("preflight", () => {
  const spec = buildClusterSpec(validRaw()).spec;

  it("finds nothing to do on a converged, healthy cluster", () => {
    const result = run(spec, converged(spec));
    assert.deepStrictEqual(result.errors, []);
    assert.deepStrictEqual(result.warnings, []);
    assert.strictEqual(
      formatPlan(result.plan),
      [
        "roll plan (one node at a time, servers first):",
        "  1. k3s-vm-pve: nothing to restart",
        "  2. k3s-vm-piglet: nothing to restart",
        "  3. k3s-vm-fawn: nothing to restart",
      ].join("\n"),
    );
  });

  describe("the VM on Proxmox (qemu-server's rules)", () => {
    const fawn = (vm: Partial<VmObservation>, storage?: HostObservation["storage"]) => {
      const observed = converged(spec);
      const config = { scsihw: "virtio-scsi-single", scsi0: "local-zfs:vm-108-disk-0,size=64G" };
      const base = { vmid: 108, current: config, pending: config, status: "running" };
      observed.hosts.set("fawn", { vms: new Map([[108, { ...base, ...vm }]]), storage });
      return observed;
    };

    it("refuses aio=native with writeback (QEMU would not start the VM again), naming the option", () => {
      const drive = "local-zfs:vm-108-disk-0,aio=native,size=64G";
      const config = { scsihw: "virtio-scsi-single", scsi0: drive };
      const result = run(spec, fawn({ current: config, pending: config }));
      assert.deepStrictEqual(result.errors, [
        "node `k3s-vm-fawn`: VM 108 on `fawn`, `scsi0` has aio=native, and QEMU refuses aio=native without a direct cache (cache=writeback is not): the VM would not start again after qm reboot; change `aio` on the disk first (to io_uring or threads), or `disk.cache` to none or directsync",
      ]);
    });

    it("warns on aio=io_uring with a non-direct cache on LVM and krbd storage only", () => {
      const at = (storage: string) => {
        const config = {
          scsihw: "virtio-scsi-single",
          scsi0: `${storage}:vm-108-disk-0,aio=io_uring,size=64G`,
        };
        return { current: config, pending: config };
      };
      const storage = new Map<string, StorageEntry>([
        ["vg", { type: "lvm", options: { vgname: "pve" } }],
        ["ceph", { type: "rbd", options: { krbd: "1" } }],
        ["zfs", { type: "zfspool", options: {} }],
      ]);
      assert.deepStrictEqual(run(spec, fawn(at("vg"), storage)).warnings, [
        "node `k3s-vm-fawn`: VM 108 on `fawn`, `scsi0` has aio=io_uring with cache=writeback on LVM storage, which can hang (qemu-server never picks io_uring there itself); consider aio=threads",
      ]);
      assert.match(run(spec, fawn(at("ceph"), storage)).warnings[0], /on krbd storage/);
      assert.deepStrictEqual(run(spec, fawn(at("zfs"), storage)).warnings, []);
    });

    it("lists the other pending changes a reboot applies, and refuses them unless the node opts in", () => {
      const observed = fawn({ pendingKeys: ["cores", "memory", "net0", "delete:net1", "scsi0"] });
      const refused = run(spec, observed);
      assert.deepStrictEqual(refused.errors, [
        "node `k3s-vm-fawn`: VM 108 on `fawn` has other pending changes a qm reboot would apply too: cores, memory, net0, delete:net1; apply or revert them first (qm pending 108; qm set 108 --revert KEY), or set `applyPendingChanges: true` on the node, refusing",
      ]);
      assert.strictEqual(
        formatPlan(refused.plan).split("\n")[3],
        "  3. k3s-vm-fawn: qm reboot (cache none→writeback, iothread 0→1, also applies pending cores, memory, net0, delete:net1)",
      );
      const raw = validRaw();
      raw.nodes["k3s-vm-fawn"].applyPendingChanges = true;
      const optedIn = buildClusterSpec(raw).spec;
      assert.deepStrictEqual(run(optedIn, observed).errors, []);
    });

    it("refuses every state but running and stopped, with the right hint", () => {
      const errorsFor = (status: string) => run(spec, fawn({ status })).errors;
      assert.deepStrictEqual(errorsFor("paused"), [
        "node `k3s-vm-fawn`: VM 108 on `fawn` is paused: resume it with `qm resume 108` (not `qm start`), refusing",
      ]);
      assert.match(errorsFor("io-error")[0], /is paused on a disk I\/O error: .*`qm resume 108`/);
      assert.match(errorsFor("prelaunch")[0], /is in prelaunch .*`qm resume 108` runs it/);
      assert.match(
        errorsFor("suspended")[0],
        /is suspended by its guest: wake it with `qm resume 108`/,
      );
      assert.match(errorsFor("internal-error")[0], /is halted \(internal-error\)/);
      assert.match(errorsFor("postmigrate")[0], /is postmigrate, neither running nor stopped/);
    });

    it("on BTRFS storage without nocow an absent cache is QEMU's writeback, with nocow it is none", () => {
      const config = {
        scsihw: "virtio-scsi-single",
        scsi0: "btr:108/vm-108-disk-0.raw,iothread=1",
      };
      const vm = { current: config, pending: config };
      const btrfs = new Map([["btr", { type: "btrfs", options: { path: "/b" } }]]);
      assert.strictEqual(run(spec, fawn(vm, btrfs)).plan[2].restart, "none");
      const nocow = new Map([["btr", { type: "btrfs", options: { nocow: "1" } }]]);
      assert.deepStrictEqual(run(spec, fawn(vm, nocow)).plan[2].reasons, [
        "qm reboot (cache none→writeback)",
      ]);
    });

    it("names a timed-out earlier qm reboot: still running (warning) or powered off since", () => {
      const running = run(spec, fawn({ rebootTimedOutAt: "2026-11-30T00:53:20.000Z" }));
      assert.deepStrictEqual(running.warnings, [
        "node `k3s-vm-fawn`: VM 108 on `fawn`: an earlier qm reboot (at 2026-11-30T00:53:20.000Z) timed out; the guest got the shutdown request and may still power off and stay off; the roll tries qm reboot again",
      ]);
      const observed = fawn({ status: "stopped", rebootTimedOutAt: "2026-11-30T00:53:20.000Z" });
      observed.nodes.set("k3s-vm-fawn", { unreachable: "connection refused" } as never);
      assert.match(
        run(spec, observed).errors.join("\n"),
        /`k3s-vm-fawn`: unreachable: connection refused; VM 108 on `fawn` is stopped: an earlier qm reboot \(at 2026-11-30T00:53:20.000Z\) timed out after the guest got the shutdown request, and the guest powered off later; Proxmox does not start it again \(start it: qm start 108\)/,
      );
    });
  });

  it("plans one VM restart for disk options and an upgrade together", () => {
    const observed = converged(spec);
    const config = { scsihw: "virtio-scsi-single", scsi0: "local-zfs:vm-108-disk-0,size=64G" };
    observed.hosts.set("fawn", {
      vms: new Map([[108, { vmid: 108, current: config, pending: config, status: "running" }]]),
    });
    for (const o of observed.nodes.values()) {
      if (o.apiNodes)
        o.apiNodes = o.apiNodes.map((n) =>
          n.name === "k3s-vm-fawn" ? { ...n, kubeletVersion: "v1.33.5+k3s1" } : n,
        );
    }
    observed.nodes.get("k3s-vm-fawn")!.installedVersion = "v1.33.5+k3s1";
    const result = run(spec, observed);
    assert.deepStrictEqual(result.errors, []);
    assert.deepStrictEqual(result.plan[2], {
      node: "k3s-vm-fawn",
      restart: "vm",
      reasons: ["qm reboot (cache none→writeback, iothread 0→1)", "K3s v1.33.5+k3s1→v1.33.6+k3s1"],
    });
    assert.strictEqual(
      formatPlan(result.plan).split("\n")[3],
      "  3. k3s-vm-fawn: qm reboot (cache none→writeback, iothread 0→1); K3s v1.33.5+k3s1→v1.33.6+k3s1",
    );
  });

  it("says when the disk options are set but pending (a run stopped before its qm reboot)", () => {
    const observed = converged(spec);
    const vm = observed.hosts.get("fawn")!.vms.get(108)!;
    const old = { scsihw: "virtio-scsi-single", scsi0: "local-zfs:vm-108-disk-0,size=64G" };
    (observed.hosts as Map<string, HostObservation>).set("fawn", {
      ...observed.hosts.get("fawn")!,
      vms: new Map([[108, { ...vm, current: old, pending: vm.current, status: "running" }]]),
    });
    const result = run(spec, observed);
    assert.deepStrictEqual(result.errors, []);
    assert.strictEqual(
      formatPlan(result.plan).split("\n")[3],
      "  3. k3s-vm-fawn: qm reboot (cache none→writeback, iothread 0→1; already set, pending until the restart)",
    );
  });

  it("says when the new K3s is on disk but not running (a run stopped after its install)", () => {
    const observed = converged(spec);
    for (const o of observed.nodes.values()) {
      if (o.apiNodes)
        o.apiNodes = o.apiNodes.map((n) =>
          n.name === "k3s-vm-piglet" ? { ...n, kubeletVersion: "v1.33.5+k3s1" } : n,
        );
    }
    assert.strictEqual(observed.nodes.get("k3s-vm-piglet")!.installedVersion, "v1.33.6+k3s1");
    const result = run(spec, observed);
    assert.deepStrictEqual(result.errors, []);
    assert.strictEqual(
      formatPlan(result.plan).split("\n")[2],
      "  2. k3s-vm-piglet: K3s v1.33.5+k3s1→v1.33.6+k3s1 (installed, not running yet: starts at the restart)",
    );
  });

  it("plans a K3s restart for a config.yaml change and names the keys", () => {
    const observed = converged(spec);
    observed.nodes.get("k3s-vm-piglet")!.configYaml =
      "server: https://10.0.0.21:6443\ntoken-file: /etc/rancher/k3s/token\n";
    const result = run(spec, observed);
    assert.deepStrictEqual(result.plan[1], {
      node: "k3s-vm-piglet",
      restart: "k3s",
      reasons: ["config.yaml (disable)"],
    });
  });

  describe("a config.yaml with the settings K3s runs with (a discovered node)", () => {
    const tokens = { token: "the-token" };
    const sha = (c: string) => c.repeat(64);
    const discovered = () => {
      const observed = converged(spec);
      const fawn = observed.nodes.get("k3s-vm-fawn")!;
      fawn.configYaml = "server: https://10.0.0.21:6443\ntoken: the-token\ndisable: [traefik]";
      fawn.configSha = sha("a");
      return { observed, fawn };
    };

    it("writes the program's form without a restart, and says so", () => {
      const { observed } = discovered();
      const result = preflight(spec, observed, desiredYaml(spec), NO_OVERRIDES, tokens);
      assert.deepStrictEqual(result.errors, []);
      assert.deepStrictEqual(result.plan[2], {
        node: "k3s-vm-fawn",
        restart: "none",
        reasons: [
          "config.yaml in the program's form (token, token-file): the settings K3s runs with now, written without a restart",
        ],
      });
      assert.deepStrictEqual(result.sameSettingsAs, { "k3s-vm-fawn": sha("a") });
    });

    it("keeps comparing with the file K3s started with once the program's is in place", () => {
      const { observed, fawn } = discovered();
      fawn.configAsStarted = { sha: sha("a"), text: fawn.configYaml };
      fawn.configYaml = desiredYaml(spec)(spec.nodes[2]);
      fawn.configSha = sha("b");
      const result = preflight(spec, observed, desiredYaml(spec), NO_OVERRIDES, tokens);
      assert.deepStrictEqual(result.plan[2], { node: "k3s-vm-fawn", restart: "none", reasons: [] });
      assert.deepStrictEqual(result.sameSettingsAs, { "k3s-vm-fawn": sha("a") });
    });

    it("restarts as before for another token, without the tokens, and with a new version", () => {
      const { observed } = discovered();
      const other = preflight(spec, observed, desiredYaml(spec), NO_OVERRIDES, { token: "x" });
      assert.deepStrictEqual(other.plan[2].reasons, ["config.yaml (token, token-file)"]);
      assert.deepStrictEqual(other.sameSettingsAs, {});
      assert.strictEqual(run(spec, observed).plan[2].restart, "k3s");
      const raw = validRaw();
      raw.nodes["k3s-vm-fawn"].k3sVersion = "v1.34.1+k3s1";
      const newer = buildClusterSpec(raw).spec;
      const upgraded = preflight(newer, observed, desiredYaml(newer), NO_OVERRIDES, tokens);
      assert.deepStrictEqual(upgraded.sameSettingsAs, {});
      assert.deepStrictEqual(upgraded.plan[2].reasons.slice(1), [
        "config.yaml (token, token-file)",
      ]);
    });
  });

  it("refuses a downgrade and a skipped minor against what runs", () => {
    const raw = validRaw();
    raw.cluster.k3sVersion = "v1.33.5+k3s1";
    const older = buildClusterSpec(raw).spec;
    const observed = converged(spec);
    assert.deepStrictEqual(run(older, observed).errors.slice(0, 1), [
      "node `k3s-vm-pve`, `k3sVersion`: runs v1.33.6+k3s1; v1.33.5+k3s1 would downgrade it, refusing",
    ]);
    for (const o of observed.nodes.values()) {
      if (o.apiNodes)
        o.apiNodes = o.apiNodes.map((n) => ({ ...n, kubeletVersion: "v1.31.9+k3s1" }));
    }
    assert.deepStrictEqual(
      run(spec, observed).errors[0],
      "node `k3s-vm-pve`, `k3sVersion`: runs v1.31.9+k3s1; v1.33.6+k3s1 skips a minor release (upgrade one minor at a time), refusing",
    );
  });

  it("a new cluster: refuses until its first server has cluster-init, then plans the install", () => {
    const fresh = converged(spec);
    for (const o of fresh.nodes.values()) {
      delete o.installedVersion;
      delete o.service;
      delete o.etcdMembers;
      delete o.apiNodes;
      delete o.etcdHealthy;
      delete o.etcdLeader;
      o.configYaml = "";
    }
    const errors = run(spec, fresh).errors.filter((e) => e.includes("new cluster"));
    assert.deepStrictEqual(errors, [
      "node `k3s-vm-pve`: no server runs K3s yet, so this is a new cluster, and its first server would join `https://10.0.0.21:6443` (itself) instead of starting etcd; set `cluster-init: true` in `nodes.k3s-vm-pve.config`, refusing",
    ]);
    const raw = validRaw();
    raw.nodes["k3s-vm-pve"].config = { "cluster-init": true };
    const initSpec = buildClusterSpec(raw).spec;
    // (The health checks still refuse a cluster that does not run yet: this program converges
    // existing clusters.)
    assert.deepStrictEqual(
      run(initSpec, fresh).errors.filter((e) => e.includes("new cluster")),
      [],
    );
    assert.ok(!desiredYaml(initSpec)(initSpec.nodes[0]).includes("server:"));
  });

  it("refuses cluster-init on a server without K3s while other servers run it", () => {
    const raw = validRaw();
    raw.nodes["k3s-vm-fawn"].config = { "cluster-init": true };
    const withInit = buildClusterSpec(raw).spec;
    const observed = converged(spec);
    delete observed.nodes.get("k3s-vm-fawn")!.installedVersion;
    assert.ok(
      run(withInit, observed).errors.includes(
        "node `k3s-vm-fawn`: `config.cluster-init: true` on a server without K3s while other servers run it would start a second, separate cluster instead of joining; remove it, refusing",
      ),
    );
  });

  it("refuses a node-ip change on a running etcd member unless the node allows it", () => {
    const raw = validRaw();
    raw.nodes["k3s-vm-fawn"].config = { "node-ip": "10.0.0.99" };
    const changed = buildClusterSpec(raw).spec;
    const line =
      'node `k3s-vm-fawn`, `config.node-ip`: null → "10.0.0.99" on a running etcd member: it may not rejoin etcd as the same member';
    const errors = run(changed, converged(spec)).errors;
    assert.deepStrictEqual(errors, [
      `${line}; set \`nodes.k3s-vm-fawn.allowIdentityChange: true\` to do it, refusing`,
    ]);
    raw.nodes["k3s-vm-fawn"].allowIdentityChange = true;
    const allowed = run(buildClusterSpec(raw).spec, converged(spec));
    assert.deepStrictEqual(allowed.errors, []);
    assert.ok(allowed.warnings.includes(`${line} (allowed by \`allowIdentityChange\`)`));
  });

  it("a node-ip the node already runs with (ExecStart flag) is no identity change", () => {
    const raw = validRaw();
    raw.nodes["k3s-vm-fawn"].config = { "node-ip": "10.0.0.23" };
    const observed = converged(spec);
    observed.nodes.get("k3s-vm-fawn")!.execStart = ["server", "--node-ip=10.0.0.23"];
    const errors = run(buildClusterSpec(raw).spec, observed).errors;
    assert.deepStrictEqual(
      errors.filter((e) => e.includes("config.node-ip")),
      [],
      errors.join("\n"),
    );
    observed.nodes.get("k3s-vm-fawn")!.execStart = ["server", "--node-ip=10.0.0.99"];
    assert.ok(
      run(buildClusterSpec(raw).spec, observed).errors.some((e) =>
        e.startsWith('node `k3s-vm-fawn`, `config.node-ip`: "10.0.0.99" → "10.0.0.23"'),
      ),
    );
  });

  it("refuses a cluster-cidr change on a running server", () => {
    const raw = validRaw();
    raw.cluster.serverConfig = { disable: ["traefik"], "cluster-cidr": "10.52.0.0/16" };
    const changed = buildClusterSpec(raw).spec;
    const errors = run(changed, converged(spec)).errors;
    assert.ok(
      errors.includes(
        'node `k3s-vm-pve`, `serverConfig.cluster-cidr`: "10.42.0.0/16" → "10.52.0.0/16" cannot change on a running cluster, refusing',
      ),
      errors.join("\n"),
    );
  });

  it("refuses a change of a K3s critical flag on a running multi-server cluster", () => {
    const raw = validRaw();
    raw.cluster.serverConfig = { disable: ["traefik", "servicelb"], "secrets-encryption": true };
    const errors = run(buildClusterSpec(raw).spec, converged(spec)).errors;
    const tail =
      ': a K3s critical flag (CriticalControlArgs) must be the same on every server; a one-at-a-time roll would leave the servers running with different values, and a server that joins meanwhile fails to join ("critical configuration value mismatch between servers"); change it on all servers while they are stopped, refusing';
    assert.ok(
      errors.includes(
        `node \`k3s-vm-pve\`, \`serverConfig.secrets-encryption\`: false → true${tail}`,
      ),
      errors.join("\n"),
    );
    assert.ok(
      errors.includes(`node \`k3s-vm-pve\`, \`serverConfig.disable\`: [] → ["servicelb"]${tail}`),
      errors.join("\n"),
    );
  });

  it("knows CriticalControlArgs as K3s has them: supervisor-metrics and flannel-ip-masq-disable-random-fully are critical", () => {
    const raw = validRaw();
    raw.cluster.serverConfig = {
      disable: ["traefik"],
      "supervisor-metrics": true,
      "flannel-ip-masq-disable-random-fully": true,
    };
    const errors = run(buildClusterSpec(raw).spec, converged(spec)).errors;
    assert.deepStrictEqual(
      errors.map((e) => e.split(":")[0]).sort(),
      [
        "node `k3s-vm-pve`, `serverConfig.flannel-ip-masq-disable-random-fully`",
        "node `k3s-vm-piglet`, `serverConfig.flannel-ip-masq-disable-random-fully`",
        "node `k3s-vm-fawn`, `serverConfig.flannel-ip-masq-disable-random-fully`",
        "node `k3s-vm-pve`, `serverConfig.supervisor-metrics`",
        "node `k3s-vm-piglet`, `serverConfig.supervisor-metrics`",
        "node `k3s-vm-fawn`, `serverConfig.supervisor-metrics`",
      ].sort(),
    );
  });

  it("lets `disable: [coredns]` change (no longer critical) and K3s's defaults be written explicitly", () => {
    const raw = validRaw();
    raw.cluster.serverConfig = {
      disable: ["traefik", "coredns"],
      "egress-selector-mode": "agent",
      "secrets-encryption-provider": "aescbc",
    };
    assert.deepStrictEqual(run(buildClusterSpec(raw).spec, converged(spec)).errors, []);
  });

  it("lets non-critical disable entries and single-server clusters change", () => {
    const raw = validRaw();
    raw.cluster.serverConfig = { disable: ["traefik", "local-storage"] };
    assert.deepStrictEqual(run(buildClusterSpec(raw).spec, converged(spec)).errors, []);
    const single = validRaw();
    delete single.nodes["k3s-vm-piglet"];
    delete single.nodes["k3s-vm-fawn"];
    delete single.cluster.rollOrder;
    const one = buildClusterSpec(single).spec;
    single.cluster.serverConfig = { disable: ["traefik"], "secrets-encryption": true };
    const changed = buildClusterSpec(single).spec;
    assert.deepStrictEqual(run(changed, converged(one)).errors, []);
  });

  it("accepts writing a default explicitly", () => {
    const raw = validRaw();
    raw.cluster.serverConfig = { disable: ["traefik"], "cluster-cidr": "10.42.0.0/16" };
    assert.deepStrictEqual(run(buildClusterSpec(raw).spec, converged(spec)).errors, []);
  });

  it("refuses to start on an unhealthy cluster, naming what is wrong", () => {
    const observed = converged(spec);
    Object.assign(observed.nodes.get("k3s-vm-piglet")!, {
      etcdHealthy: false,
      etcdUnhealthyReason: "etcd says RAFT NO LEADER",
    });
    for (const o of observed.nodes.values()) {
      if (o.apiNodes)
        o.apiNodes = o.apiNodes.map((n) =>
          n.name === "k3s-vm-fawn" ? { ...n, ready: "False" } : n,
        );
      if (o.etcdLeader) o.etcdLeader = "0";
    }
    assert.deepStrictEqual(run(spec, observed).errors, [
      "cluster unhealthy, refusing to start: node `k3s-vm-piglet`: its etcd member is not healthy: etcd says RAFT NO LEADER",
      "cluster unhealthy, refusing to start: etcd has no leader",
      "cluster unhealthy, refusing to start: node `k3s-vm-fawn`: NotReady (Ready=False)",
      "to restart only the unhealthy (k3s-vm-piglet, k3s-vm-fawn), one at a time and gated, before the roll: set `cluster.roll.repair: true`",
    ]);
    const repair = run(spec, observed, { ...NO_OVERRIDES, repair: true });
    assert.deepStrictEqual(repair.errors, []);
    assert.deepStrictEqual(repair.warnings, [
      "repair: node `k3s-vm-piglet`: its etcd member is not healthy: etcd says RAFT NO LEADER",
      "repair: etcd has no leader",
      "repair: node `k3s-vm-fawn`: NotReady (Ready=False)",
    ]);
    assert.deepStrictEqual(repair.repairs, [
      {
        node: "k3s-vm-piglet",
        reason: "its etcd member is not healthy: etcd says RAFT NO LEADER",
      },
      { node: "k3s-vm-fawn", reason: "NotReady (Ready=False)" },
    ]);
    assert.strictEqual(
      formatPlan(repair.plan, repair.repairs).split("\n").slice(0, 4).join("\n"),
      [
        "repair first (restarts only what is still unhealthy then, one node at a time, gated):",
        "  - k3s-vm-piglet: restart K3s (its etcd member is not healthy: etcd says RAFT NO LEADER)",
        "  - k3s-vm-fawn: restart K3s (NotReady (Ready=False))",
        "roll plan (one node at a time, servers first):",
      ].join("\n"),
    );
  });

  it("repair still refuses what a restart cannot fix: a stale member, lost quorum", () => {
    const stale = converged(spec);
    for (const o of stale.nodes.values()) {
      if (o.etcdMembers)
        o.etcdMembers = [
          ...o.etcdMembers,
          { id: "9", name: "old-server-99aa00bb", isLearner: false },
        ];
    }
    assert.deepStrictEqual(run(spec, stale, { ...NO_OVERRIDES, repair: true }).errors, [
      "cluster unhealthy, a restart cannot repair it: etcd member `old-server-99aa00bb` (9) is no server of this stack: it still votes; remove it if it is gone",
    ]);
    const lost = converged(spec);
    lost.nodes.get("k3s-vm-piglet")!.etcdHealthy = false;
    lost.nodes.get("k3s-vm-fawn")!.etcdHealthy = false;
    assert.deepStrictEqual(run(spec, lost, { ...NO_OVERRIDES, repair: true }).errors, [
      "only 1 of 3 etcd members are healthy: quorum is lost, and restarting members one at a time cannot bring it back; start K3s on the stopped servers together (systemctl start --no-block k3s on each), then run up again",
    ]);
  });

  it("ends the plan with what the fsync gate holds each server's roll to, with two servers or more", () => {
    const line =
      "before each server's roll, every other etcd member's WAL fsync p99 over 15 s must be ≤ 100 ms (cluster.roll.maxFsyncP99Ms): a slower member holds the roll up to 600 s (gateTimeoutSeconds), then stops it";
    assert.strictEqual(fsyncGateLine(spec), line);
    assert.strictEqual(
      formatPlan(run(spec, converged(spec)).plan, [], false, line).split("\n")[4],
      line,
    );
    const raw = validRaw();
    raw.cluster.roll = { maxFsyncP99Ms: 40 };
    raw.cluster.gateTimeoutSeconds = 120;
    assert.match(
      fsyncGateLine(buildClusterSpec(raw).spec)!,
      /must be ≤ 40 ms \(cluster\.roll\.maxFsyncP99Ms\): a slower member holds the roll up to 120 s/,
    );
    const one = validRaw();
    delete one.nodes["k3s-vm-piglet"];
    delete one.nodes["k3s-vm-fawn"];
    one.cluster.rollOrder = ["k3s-vm-pve"];
    assert.strictEqual(fsyncGateLine(buildClusterSpec(one).spec), undefined);
  });

  it("says in the plan's heading when nodes are drained first", () => {
    assert.strictEqual(
      formatPlan(run(spec, converged(spec)).plan, [], true).split("\n")[0],
      "roll plan (one node at a time, servers first; a node is drained before its restart):",
    );
  });

  it("warns about nodes already cordoned, by an earlier roll or by hand", () => {
    const observed = converged(spec);
    for (const o of observed.nodes.values()) {
      if (o.apiNodes)
        o.apiNodes = o.apiNodes.map((n) =>
          n.name === "k3s-vm-fawn"
            ? { ...n, cordoned: "by-roll" as const }
            : n.name === "k3s-vm-pve"
              ? { ...n, cordoned: "by-hand" as const }
              : n,
        );
    }
    const result = run(spec, observed);
    assert.deepStrictEqual(result.errors, []);
    assert.deepStrictEqual(result.warnings, [
      "node `k3s-vm-pve`: cordoned, not by this tool; the roll leaves it cordoned",
      "node `k3s-vm-fawn`: still cordoned by an earlier roll whose gate did not pass; its gate uncordons it once it passes",
    ]);
  });

  it("repair on a healthy cluster repairs nothing and says so", () => {
    const result = run(spec, converged(spec), { ...NO_OVERRIDES, repair: true });
    assert.deepStrictEqual(result.errors, []);
    assert.deepStrictEqual(result.repairs, []);
    assert.deepStrictEqual(result.warnings, [
      "`cluster.roll.repair` is set but the cluster is healthy: remove it",
    ]);
  });

  it("counts a stale etcd member as a voter and refuses", () => {
    const observed = converged(spec);
    for (const o of observed.nodes.values()) {
      if (o.etcdMembers)
        o.etcdMembers = [
          ...o.etcdMembers,
          { id: "9", name: "old-server-99aa00bb", isLearner: false },
        ];
    }
    assert.deepStrictEqual(run(spec, observed).errors, [
      "cluster unhealthy, refusing to start: etcd member `old-server-99aa00bb` (9) is no server of this stack: it still votes; remove it if it is gone",
    ]);
  });

  it("refuses to roll while a member is a learner, naming it, with or without repair", () => {
    const observed = converged(spec);
    for (const o of observed.nodes.values()) {
      if (o.etcdMembers)
        o.etcdMembers = o.etcdMembers.map((m) =>
          m.name.startsWith("k3s-vm-fawn-") ? { ...m, isLearner: true } : m,
        );
    }
    const learner =
      "etcd member `k3s-vm-fawn-0a1b2c3d` is a learner, not a voter: K3s is still promoting it (the etcd leader tries every 15 s); wait until it votes, then run up again";
    assert.deepStrictEqual(run(spec, observed).errors, [
      `cluster unhealthy, refusing to start: ${learner}`,
    ]);
    assert.deepStrictEqual(run(spec, observed, { ...NO_OVERRIDES, repair: true }).errors, [
      `cluster unhealthy, a restart cannot repair it: ${learner}`,
    ]);
  });

  it("refuses to restart a server of a 2-member etcd without the override", () => {
    const raw = validRaw();
    delete raw.nodes["k3s-vm-fawn"];
    delete raw.cluster.rollOrder;
    const two = buildClusterSpec(raw).spec;
    const observed = converged(two);
    observed.nodes.get("k3s-vm-pve")!.configYaml = "";
    assert.deepStrictEqual(run(two, observed).errors, [
      "etcd has 2 voting members: restarting either loses quorum until it is back; refusing without `cluster.roll.allowTwoServers: true`",
    ]);
    assert.deepStrictEqual(
      run(two, observed, { ...NO_OVERRIDES, allowTwoServers: true }).errors,
      [],
    );
    assert.deepStrictEqual(run(two, converged(two)).errors, [], "no restart, no refusal");
  });

  it("names an unreachable machine", () => {
    const observed = converged(spec);
    (observed.nodes as Map<string, unknown>).set("k3s-vm-fawn", {
      unreachable: "cannot connect to 10.0.0.23:22: ECONNREFUSED",
    });
    assert.deepStrictEqual(
      run(spec, observed).errors[0],
      "`k3s-vm-fawn`: unreachable: cannot connect to 10.0.0.23:22: ECONNREFUSED",
    );
  });

  it("says when an unreachable guest's VM is not running, from its Proxmox host", () => {
    const observed = converged(spec);
    (observed.nodes as Map<string, unknown>).set("k3s-vm-fawn", {
      unreachable: "cannot connect to 10.0.0.23:22: ECONNREFUSED",
    });
    const vm = observed.hosts.get("fawn")!.vms.get(108)!;
    (observed.hosts as Map<string, HostObservation>).set("fawn", {
      ...observed.hosts.get("fawn")!,
      vms: new Map([[108, { ...vm, status: "stopped" }]]),
    });
    assert.deepStrictEqual(
      run(spec, observed).errors[0],
      "`k3s-vm-fawn`: unreachable: cannot connect to 10.0.0.23:22: ECONNREFUSED; VM 108 on `fawn` is stopped (start it: qm start 108)",
    );
  });

  it("says a qm reboot is in flight instead of telling the owner to start the VM, and lists it as restarting", () => {
    const observed = converged(spec);
    (observed.nodes as Map<string, unknown>).set("k3s-vm-fawn", {
      unreachable: "cannot connect to 10.0.0.23:22: ECONNREFUSED",
    });
    const vm = observed.hosts.get("fawn")!.vms.get(108)!;
    const withVm = (changes: Partial<typeof vm>) =>
      (observed.hosts as Map<string, HostObservation>).set("fawn", {
        ...observed.hosts.get("fawn")!,
        vms: new Map([[108, { ...vm, ...changes }]]),
      });
    withVm({ status: "stopped", restarting: true });
    assert.deepStrictEqual(
      run(spec, observed).errors[0],
      "`k3s-vm-fawn`: unreachable: cannot connect to 10.0.0.23:22: ECONNREFUSED; VM 108 on `fawn` is stopped and restarting: a qm reboot is in flight (qmeventd's `qm cleanup 108` starts it again; an interrupted run's, perhaps): wait until it is back, then run again (`pulumi up` waits up to gateTimeoutSeconds for it)",
    );
    assert.deepStrictEqual(restartingVms(spec, observed), [
      "k3s-vm-fawn (VM 108 on fawn, stopped)",
    ]);
    // Running again, the guest still booting: QEMU younger than gateTimeoutSeconds (600 s).
    withVm({ status: "running", qemuAgeSeconds: 4 });
    assert.deepStrictEqual(restartingVms(spec, observed), [
      "k3s-vm-fawn (VM 108 on fawn, started 4 s ago)",
    ]);
    withVm({ status: "running", qemuAgeSeconds: 600 });
    assert.deepStrictEqual(restartingVms(spec, observed), []);
    withVm({ status: "stopped" });
    assert.deepStrictEqual(restartingVms(spec, observed), []);
    // A reachable guest on a young QEMU is up, not booting.
    withVm({ status: "running", qemuAgeSeconds: 4 });
    assert.deepStrictEqual(restartingVms(spec, converged(spec)), []);
    // So is one whose sshd answered and refused us (a changed host key, our key not accepted).
    (observed.nodes as Map<string, unknown>).set("k3s-vm-fawn", {
      unreachable: "it refuses our SSH key",
      refused: true,
    });
    assert.deepStrictEqual(restartingVms(spec, observed), []);
  });

  it("words the wait before the preflight", () => {
    assert.strictEqual(
      settleLine(5, 120, ["k3s-vm-fawn (VM 108 on fawn, stopped)"], "`k3s-vm-fawn`: unreachable"),
      "waiting (5 s of 120 s, gateTimeoutSeconds) before the preflight: restarting (a qm reboot in flight, or its guest still booting): k3s-vm-fawn (VM 108 on fawn, stopped)",
    );
    assert.strictEqual(
      settleLine(20, 120, [], "`k3s-vm-fawn`: etcd member unhealthy"),
      "waiting (20 s of 120 s, gateTimeoutSeconds) before the preflight: back; preflight still finds: `k3s-vm-fawn`: etcd member unhealthy",
    );
  });

  it("waits on after the VM is back only for problems a returning node clears", () => {
    const back = ["k3s-vm-fawn"];
    assert.strictEqual(keepSettling(["k3s-vm-fawn (VM 108 on fawn, stopped)"], [], back), true);
    assert.strictEqual(keepSettling([], [], back), false);
    const fawnEtcd =
      "cluster unhealthy, refusing to start: node `k3s-vm-fawn`: its etcd member is not healthy";
    assert.strictEqual(keepSettling([], [fawnEtcd], back), true);
    assert.strictEqual(keepSettling([], ["`k3s-vm-fawn`: unreachable: timed out"], back), true);
    assert.strictEqual(
      keepSettling([], ["cluster unhealthy, refusing to start: etcd has no leader"], back),
      true,
    );
    // Waiting clears neither another node's trouble nor a stack setting.
    const pigletDown = "cluster unhealthy, refusing to start: node `k3s-vm-piglet`: NotReady";
    assert.strictEqual(keepSettling([], [pigletDown], back), false);
    assert.strictEqual(
      keepSettling([], ["invalid stack config: `cluster.k3sVersion`"], back),
      false,
    );
    assert.strictEqual(keepSettling([], [fawnEtcd], ["k3s-vm-fawn-2"]), false);
  });
});
