import * as assert from "assert";
import { spawnSync } from "child_process";
import { readdirSync } from "fs";
import { join } from "path";
import {
  removeFileIfOwned,
  renderDiskCheckScript,
  renderDrainScript,
  renderRepairScript,
  renderClusterCheckScript,
  renderDiskScript,
  renderFsyncGateScript,
  renderGateScript,
  renderK3sConfig,
  renderModprobeFile,
  renderPrepareScript,
  renderRestartScript,
  renderSysctlApplyScript,
  renderSysctlFile,
  renderTokenScript,
  renderZfsTxgScript,
  RollTarget,
  shellQuote,
  versionKey,
} from "../../render";
import { FAWN_DISK } from "./fixtures";
import { assertGolden } from "./golden";

const SYSCTL = { "vm.swappiness": "10", "vm.dirty_ratio": "5", "vm.dirty_background_ratio": "3" };

const SERVER: RollTarget = {
  node: "k3s-vm-fawn",
  nodeName: "k3s-vm-fawn",
  role: "server",
  k3sVersion: "v1.33.6+k3s1",
  fingerprint: "0123456789abcdef",
};

describe("render: files", () => {
  it("sysctl file keeps the configured order", () => {
    assert.strictEqual(
      renderSysctlFile("k3s-vm-fawn-sysctl-apply", SYSCTL),
      "# Managed by k3s-homelab (Pulumi resource k3s-vm-fawn-sysctl-apply). Edits are overwritten by `pulumi up`.\n" +
        "vm.swappiness = 10\nvm.dirty_ratio = 5\nvm.dirty_background_ratio = 3\n",
    );
  });

  it("modprobe file sets only zfs_txg_timeout", () => {
    assert.strictEqual(
      renderModprobeFile("fawn-zfs-txg", 3),
      "# Managed by k3s-homelab (Pulumi resource fawn-zfs-txg). Read when the zfs module loads.\n" +
        "options zfs zfs_txg_timeout=3\n",
    );
  });

  it("server config.yaml: join settings, must-match keys sorted, then the node's own keys", () => {
    assert.strictEqual(
      renderK3sConfig({
        role: "server",
        registrationAddress: "https://10.0.0.21:6443",
        serverConfig: { "secrets-encryption": true, disable: ["traefik", "servicelb"] },
        nodeConfig: { "tls-san": ["k3s.home.arpa"], "node-ip": "10.0.0.23" },
        hasAgentToken: true,
      }),
      [
        "# Managed by k3s-homelab (Pulumi). Applied by the gated roll: edits are overwritten.",
        "server: https://10.0.0.21:6443",
        "token-file: /etc/rancher/k3s/token",
        "agent-token-file: /etc/rancher/k3s/agent-token",
        "disable:",
        "  - traefik",
        "  - servicelb",
        "secrets-encryption: true",
        "node-ip: 10.0.0.23",
        "tls-san:",
        "  - k3s.home.arpa",
        "",
      ].join("\n"),
    );
  });

  it("the server that initialises the cluster (cluster-init) gets no `server:` pointing at itself", () => {
    assert.strictEqual(
      renderK3sConfig({
        role: "server",
        registrationAddress: "https://10.0.0.21:6443",
        serverConfig: {},
        nodeConfig: { "cluster-init": true },
        hasAgentToken: false,
      }),
      [
        "# Managed by k3s-homelab (Pulumi). Applied by the gated roll: edits are overwritten.",
        "token-file: /etc/rancher/k3s/token",
        "cluster-init: true",
        "",
      ].join("\n"),
    );
  });

  it("agent config.yaml never carries the servers' must-match keys", () => {
    assert.strictEqual(
      renderK3sConfig({
        role: "agent",
        registrationAddress: "https://10.0.0.21:6443",
        serverConfig: { disable: ["traefik"] },
        nodeConfig: { "node-taint": ["gpu=true:NoSchedule"] },
        hasAgentToken: true,
      }),
      [
        "# Managed by k3s-homelab (Pulumi). Applied by the gated roll: edits are overwritten.",
        "server: https://10.0.0.21:6443",
        "token-file: /etc/rancher/k3s/token",
        "node-taint:",
        "  - gpu=true:NoSchedule",
        "",
      ].join("\n"),
    );
  });
});

describe("render: shell helpers", () => {
  it("quotes single quotes", () => {
    assert.strictEqual(shellQuote("it's"), "'it'\\''s'");
  });

  it("orders versions with the +k3sN revision", () => {
    assert.ok(versionKey("v1.33.6+k3s2") > versionKey("v1.33.6+k3s1"));
    assert.ok(versionKey("v1.34.0+k3s1") > versionKey("v1.33.16+k3s9"));
    assert.strictEqual(versionKey("v1.33.6+k3s1"), 1033006001);
  });

  it("a delete removes the file only while it holds the hash", () => {
    assert.strictEqual(
      removeFileIfOwned("/etc/x.conf", "ab12"),
      [
        "if [ ! -e '/etc/x.conf' ]; then say \"/etc/x.conf is already gone\"",
        "elif [ \"$(sha256sum < '/etc/x.conf' | cut -d' ' -f1)\" = 'ab12' ]; then rm -f '/etc/x.conf'; say \"removed /etc/x.conf\"",
        'else say "left /etc/x.conf: it no longer holds what this resource wrote"; fi',
      ].join("\n"),
    );
  });
});

describe("render: remote scripts (golden files)", () => {
  it("sysctl apply", () => {
    assertGolden(
      "sysctl-apply.sh",
      renderSysctlApplyScript(
        "k3s-vm-fawn",
        renderSysctlFile("k3s-vm-fawn-sysctl-apply", SYSCTL),
        SYSCTL,
      ),
    );
  });

  it("zfs txg", () => {
    assertGolden(
      "zfs-txg.sh",
      renderZfsTxgScript("fawn", renderModprobeFile("fawn-zfs-txg", 3), 3),
    );
  });

  it("prepare, server with controller change", () => {
    assertGolden(
      "prepare-server.sh",
      renderPrepareScript(SERVER, "server: https://10.0.0.21:6443\n", "https://get.k3s.io", true),
    );
  });

  it("prepare, agent", () => {
    assertGolden(
      "prepare-agent.sh",
      renderPrepareScript(
        { ...SERVER, node: "k3s-agent-1", nodeName: "agent-1", role: "agent" },
        "server: https://10.0.0.21:6443\n",
        "https://get.k3s.io",
        false,
      ),
    );
  });

  // Preflight found the same settings: the file is written without a restart (and, with a
  // drain, no restart is announced for it).
  const SAME = { startedWith: "a".repeat(64), desired: "b".repeat(64) };
  it("prepare and restart, server, with the same settings", () => {
    const target = { ...SERVER, sameSettings: SAME };
    assertGolden(
      "prepare-server-same-settings.sh",
      renderPrepareScript(
        target,
        "server: https://10.0.0.21:6443\n",
        "https://get.k3s.io",
        false,
        true,
      ),
    );
    assertGolden("restart-server-same-settings.sh", renderRestartScript(target, 600));
  });

  const DISK = { ...FAWN_DISK, who: "k3s-agent-1 (VM 110 on pve)", vmid: 110 };

  it("disk", () => {
    assertGolden("disk-scsi.sh", renderDiskScript(FAWN_DISK));
    const byResource = renderDiskScript({ ...FAWN_DISK, optionsOwner: "vm-resource" });
    assertGolden("disk-scsi-vm-resource.sh", byResource);
    // The caller's VM resource owns the options: its node's disk step sets nothing.
    assert.doesNotMatch(byResource, /qm set/);
  });

  const AGENT_TARGET = {
    ...SERVER,
    node: "k3s-agent-1",
    nodeName: "agent-1",
    role: "agent" as const,
  };
  it("restart, gate, fsync gate and token", () => {
    assertGolden("restart-server.sh", renderRestartScript(SERVER, 600));
    assertGolden("restart-agent.sh", renderRestartScript(AGENT_TARGET, 120));
    assertGolden("check-server.sh", renderClusterCheckScript(SERVER));
    assertGolden(
      "check-agent-batch.sh",
      renderClusterCheckScript(AGENT_TARGET, ["agent-2", "agent-3.lan"]),
    );
    assert.strictEqual(renderClusterCheckScript(SERVER, []), renderClusterCheckScript(SERVER));
    assertGolden("gate-server.sh", renderGateScript(SERVER, 600));
    assertGolden(
      "fsync-gate-server.sh",
      renderFsyncGateScript(SERVER, "k3s-vm-pve", { maxP99Ms: 100, waitSeconds: 600 }),
    );
    assertGolden("token-server.sh", renderTokenScript("k3s-vm-fawn", "server"));
    assertGolden("token-agent.sh", renderTokenScript("k3s-agent-1", "agent"));
  });

  const AGENT = { ...SERVER, node: "k3s-agent-1", nodeName: "agent-1", role: "agent" as const };
  it("drain: prepare says when a restart follows, disk check, drain, and the repair steps", () => {
    assertGolden(
      "prepare-agent-drain.sh",
      renderPrepareScript(
        AGENT,
        "server: https://10.0.0.21:6443\n",
        "https://get.k3s.io",
        false,
        true,
      ),
    );
    assertGolden("disk-check-scsi.sh", renderDiskCheckScript(DISK));
    assertGolden("drain-agent.sh", renderDrainScript(AGENT, 300));
    assertGolden(
      "repair-server.sh",
      renderRepairScript(SERVER, 600, "its etcd member is not healthy"),
    );
    assertGolden("repair-agent.sh", renderRepairScript(AGENT, 600));
    assertGolden("repair-gate-server.sh", renderGateScript(SERVER, 600, "repair"));
  });

  it("repair restarts a running agent that preflight found NotReady, quoting the reason safely", () => {
    const script = renderRepairScript(AGENT, 600, "the API does not know `agent-1`; $(x)");
    assert.match(
      script,
      /say "repair: restarting k3s-agent, which runs but was unhealthy at preflight \(the API does not know agent-1; \(x\)\)"/,
    );
    assert.doesNotMatch(renderRepairScript(AGENT, 600), /systemctl restart/);
  });

  it("prepare without drain says nothing about restarts", () => {
    const script = renderPrepareScript(AGENT, "", "https://get.k3s.io", false);
    assert.ok(!script.includes("restart-follows"), script);
  });
});

describe("render: every golden script passes shellcheck", () => {
  const golden = join(__dirname, "..", "golden");
  const available = spawnSync("shellcheck", ["--version"]).status === 0;

  it("has shellcheck (CI installs it)", function () {
    if (!available && process.env.CI !== "true") this.skip();
    assert.ok(available, "shellcheck is not installed");
  });

  for (const file of readdirSync(golden).filter((f) => f.endsWith(".sh"))) {
    it(file, function () {
      if (!available) this.skip();
      const result = spawnSync(
        "shellcheck",
        ["-s", "sh", "-S", "warning", "-f", "gcc", join(golden, file)],
        { encoding: "utf8" },
      );
      assert.strictEqual(result.status, 0, result.stdout);
    });
  }
});
