import * as assert from "assert";
import { parseHostProbe, parseNodeProbe, parseQmConfig } from "../../probe/observations";
import { renderHostProbe, renderNodeProbe } from "../../probe/scripts";
import { assertGolden } from "./golden";

describe("probe scripts", () => {
  it("node probe for a server (golden)", () => {
    assertGolden(
      "probe-node-server.sh",
      renderNodeProbe(["vm.swappiness", "vm.dirty_ratio"], true),
    );
  });
  it("host probe (golden)", () => {
    assertGolden("probe-host.sh", renderHostProbe([105, 106]));
  });
});

describe("probe output parsing", () => {
  it("reads a server's sections", () => {
    const stdout = [
      "@@ k3s-version",
      "k3s version v1.33.5+k3s1 (8a1b2c3d)",
      "@@ service",
      "k3s active Fri 2026-11-27 03:50:00 UTC",
      "@@ config",
      "server: https://10.0.0.21:6443",
      "disable:",
      "  - traefik",
      "@@ config-sha",
      "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4",
      "@@ config-as-started",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "token: abc",
      "@@ unit-exec",
      "{ path=/usr/local/bin/k3s ; argv[]=/usr/local/bin/k3s server --node-ip=10.0.0.21 --tls-san=k3s.example ; ignore_errors=no ; start_time=[Fri 2026-11-27 14:50:00 AEDT] ; stop_time=[n/a] ; pid=812 ; code=(null) ; status=0/0 }",
      "@@ unit-env",
      "HTTP_PROXY",
      "K3S_NODE_NAME='pve-1'",
      "K3S_TOKEN",
      "@@ config-dropin /etc/rancher/k3s/config.yaml.d/50-ip.yaml",
      "node-ip: 10.0.0.9",
      "@@ sysctl",
      "vm.swappiness\t60",
      "vm.dirty_ratio\t20",
      "@@ sysctl-file",
      "@@ nodes",
      "k3s-vm-pve v1.32.4+k3s1 True  ",
      "k3s-vm-fawn v1.33.5+k3s1 False true 2026-11-27T05:00:00Z",
      "k3s-vm-piglet v1.33.5+k3s1 True true ",
      "@@ etcd-health",
      '{"health":"true","reason":""}',
      "@@ etcd-members",
      '{"header":{"cluster_id":"1","member_id":"11"},"members":[{"ID":"11","name":"k3s-vm-pve-1a2b3c4d","peerURLs":["https://10.0.0.21:2380"]},{"ID":"12","name":"k3s-vm-fawn-5e6f7a8b","isLearner":true}]}',
      "",
      "@@ etcd-status",
      '{"header":{"member_id":"11"},"version":"3.5.21","leader":"11"}',
      "",
    ].join("\n");
    assert.deepStrictEqual(parseNodeProbe(stdout), {
      installedVersion: "v1.33.5+k3s1",
      service: { unit: "k3s", since: "Fri 2026-11-27 03:50:00 UTC" },
      configYaml: "server: https://10.0.0.21:6443\ndisable:\n  - traefik",
      configSha: "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4",
      configAsStarted: {
        sha: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        text: "token: abc",
      },
      execStart: ["server", "--node-ip=10.0.0.21", "--tls-san=k3s.example"],
      unitEnv: [
        { name: "HTTP_PROXY" },
        { name: "K3S_NODE_NAME", value: "pve-1" },
        { name: "K3S_TOKEN" },
      ],
      configDropins: [
        { path: "/etc/rancher/k3s/config.yaml.d/50-ip.yaml", text: "node-ip: 10.0.0.9" },
      ],
      sysctl: { "vm.swappiness": "60", "vm.dirty_ratio": "20" },
      sysctlFile: "",
      apiNodes: [
        { name: "k3s-vm-pve", kubeletVersion: "v1.32.4+k3s1", ready: "True" },
        {
          name: "k3s-vm-fawn",
          kubeletVersion: "v1.33.5+k3s1",
          ready: "False",
          cordoned: "by-roll",
        },
        {
          name: "k3s-vm-piglet",
          kubeletVersion: "v1.33.5+k3s1",
          ready: "True",
          cordoned: "by-hand",
        },
      ],
      etcdHealthy: true,
      etcdMembers: [
        { id: "11", name: "k3s-vm-pve-1a2b3c4d", isLearner: false },
        { id: "12", name: "k3s-vm-fawn-5e6f7a8b", isLearner: true },
      ],
      etcdLeader: "11",
      etcdMemberId: "11",
    });
  });

  it("marks what a stopped server could not answer as unknown", () => {
    const o = parseNodeProbe(
      "@@ k3s-version\n@@ service\n@@ config\n@@ sysctl\n@@ sysctl-file\n@@ nodes\n!unavailable\n@@ etcd-health\n!unavailable\n@@ etcd-members\n!unavailable\n\n@@ etcd-status\n!unavailable\n",
    );
    assert.strictEqual(o.installedVersion, undefined);
    assert.strictEqual(o.service, undefined);
    assert.strictEqual(o.apiNodes, undefined);
    assert.strictEqual(o.etcdHealthy, false);
    assert.strictEqual(
      o.etcdUnhealthyReason,
      "no answer from its /health on 127.0.0.1:2381; is K3s running?",
    );
    assert.strictEqual(o.etcdMembers, undefined);
    assert.strictEqual(o.etcdLeader, undefined);
  });

  it("keeps the reason an unhealthy etcd member gives with its 503", () => {
    const health = (body: string) =>
      parseNodeProbe(`@@ k3s-version\n@@ etcd-health\n${body}\n@@ etcd-members\n!unavailable\n`);
    const noLeader = health('{"health":"false","reason":"RAFT NO LEADER"}');
    assert.strictEqual(noLeader.etcdHealthy, false);
    assert.strictEqual(noLeader.etcdUnhealthyReason, "etcd says RAFT NO LEADER");
    const odd = health("404 page not found");
    assert.strictEqual(odd.etcdUnhealthyReason, 'its /health answered "404 page not found"');
    const fine = health('{"health":"true","reason":""}');
    assert.strictEqual(fine.etcdHealthy, true);
    assert.strictEqual(fine.etcdUnhealthyReason, undefined);
  });

  it("reads qm config lines, a VM's config file and the host's txg", () => {
    assert.deepStrictEqual(
      parseQmConfig("boot: order=scsi0\nscsi0: local-zfs:vm-105-disk-0,size=64G\n\n"),
      {
        boot: "order=scsi0",
        scsi0: "local-zfs:vm-105-disk-0,size=64G",
      },
    );
    const host = parseHostProbe(
      [
        "@@ vm 105 conf",
        "#lab VM",
        "boot: order=scsi0",
        "memory: 2048",
        "net1: virtio=BC:24:11:00:00:01,bridge=vmbr1",
        "scsi0: local-zfs:vm-105-disk-0,size=64G",
        "",
        "[PENDING]",
        "delete: net1",
        "memory: 4096",
        "scsi0: local-zfs:vm-105-disk-0,cache=writeback,size=64G",
        "@@ vm 105 status",
        "pid: 4242",
        "qmpstatus: paused",
        "status: running",
        "@@ vm 105 pid",
        "4242",
        "@@ vm 105 reboot-timeout",
        "1796000000 4242",
        "@@ vm 105 qemu-age",
        "     37",
        "@@ vm 105 restart",
        "reboot-request",
        "cleanup",
        "@@ storage",
        "dir: local",
        "\tpath /var/lib/vz",
        "",
        "btrfs: local-btrfs",
        "\tpath /var/lib/pve/local-btrfs",
        "\tcontent images,rootdir",
        "@@ txg",
        "5",
        "@@ txg-boot",
        "# Managed by k3s-homelab",
        "options zfs zfs_txg_timeout=3",
      ].join("\n"),
      [105],
    );
    assert.deepStrictEqual(host.vms.get(105), {
      vmid: 105,
      current: {
        boot: "order=scsi0",
        memory: "2048",
        net1: "virtio=BC:24:11:00:00:01,bridge=vmbr1",
        scsi0: "local-zfs:vm-105-disk-0,size=64G",
      },
      pending: {
        boot: "order=scsi0",
        memory: "4096",
        scsi0: "local-zfs:vm-105-disk-0,cache=writeback,size=64G",
      },
      pendingKeys: ["memory", "delete:net1", "scsi0"],
      status: "paused",
      rebootTimedOutAt: "2026-11-30T00:53:20.000Z",
      restarting: true,
      qemuAgeSeconds: 37,
    });
    assert.deepStrictEqual(host.storage?.get("local-btrfs"), {
      type: "btrfs",
      options: { path: "/var/lib/pve/local-btrfs", content: "images,rootdir" },
    });
    assert.strictEqual(host.txgLive, 5);
    assert.strictEqual(host.txgBoot, 3);
    assert.strictEqual(parseHostProbe("@@ txg\n!absent\n@@ txg-boot\n", []).txgLive, undefined);
  });

  it("a qm cleanup after our timed-out qm reboot is not a restart: the request was cleared, the VM stays off", () => {
    const restartingOf = (restart: string, timeoutNote: string) =>
      parseHostProbe(
        [
          "@@ vm 105 status",
          "status: stopped",
          "@@ vm 105 reboot-timeout",
          timeoutNote,
          "@@ vm 105 restart",
          restart,
        ].join("\n"),
        [105],
      ).vms.get(105)?.restarting;
    assert.strictEqual(restartingOf("cleanup", "1796000000 4242"), undefined);
    assert.strictEqual(restartingOf("cleanup", ""), true);
    assert.strictEqual(restartingOf("reboot-request", "1796000000 4242"), true);
    assert.strictEqual(restartingOf("", ""), undefined);
  });
});
