import * as assert from "assert";
import { join } from "path";
import { LabEvent } from "../../lab/events";
import { stackFileForFixture } from "../../lab/stackFile";
import {
  eventMark,
  eventsSince,
  labDown,
  labUp,
  REPO,
  requireLabMachine,
  Workspace,
} from "./harness";
import { downIntervals, Interval } from "./rollChecks";
import { sh } from "./postCluster";
import { barePod, kubectlApply, pinnedUnderBudget, waitPodsReady } from "./workloads";
import { editStack } from "./stackEdit";
import { discoverLab, validateStackFile } from "./discoverRun";
import { rollReasons, switchOnTweaks } from "./discoverEdit";
import { loadFixture } from "../../lab/fixture";

const MIXED = join(REPO, "lab", "fixtures", "mixed.yaml");
const TOKEN = "lab-mixed-token-not-secret";
const SERVERS = ["k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn"];
const AGENT = "k3s-agent-pve";
const NODES = [...SERVERS, AGENT];
const PVE = { address: "127.0.0.21", name: "k3s-vm-pve" };
/** The owner cordoned this node by hand before the first roll. */
const BY_HAND = "k3s-vm-fawn";

/** kubectl calls that changed a node, as `verb node` in order. */
function nodeChanges(events: readonly LabEvent[]): { verb: string; node: string; ts: number }[] {
  return events
    .filter((e) => e.tool === "k3s" && e.action === "kubectl" && e.mutating)
    .map((e) => {
      const args = (e.args as string[]).filter((a) => !a.startsWith("-"));
      const node = args[0] === "annotate" ? args[2] : args[1];
      return { verb: args[0], node, ts: Date.parse(e.ts) };
    });
}

/** Each node's `cordoned/annotation` as the API reports it. */
function schedulability(): Record<string, string> {
  const out = sh(
    PVE.address,
    PVE.name,
    `k3s kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.spec.unschedulable}/{.metadata.annotations.k3s-homelab/cordoned}{"\\n"}{end}'`,
  );
  return Object.fromEntries(out.split("\n").map((l) => l.split("=") as [string, string]));
}

const allSchedulable = Object.fromEntries(NODES.map((n) => [n, "/"]));

/** Waits until the API reports `node`'s Ready condition as `status`. */
async function waitReadyStatus(node: string, status: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = "";
  while (Date.now() < deadline) {
    seen = sh(
      PVE.address,
      PVE.name,
      `k3s kubectl get node ${node} -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'`,
    );
    if (seen === status) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
  assert.fail(`${node}: Ready=${seen}, not ${status}, after ${timeoutMs / 1000} s`);
}

function mixedWorkspace(name: string, cluster: Record<string, unknown>): Workspace {
  const stack = stackFileForFixture(name, MIXED, {
    // The agent listed first: servers still roll before it.
    rollOrder: [AGENT, ...SERVERS],
    ...cluster,
  });
  return new Workspace(name, name, stack, TOKEN);
}

describe("e2e: three servers and an agent: roll order, cordon/drain, repair", function () {
  this.timeout(30 * 60 * 1000);
  let ws: Workspace;

  before(function () {
    requireLabMachine(this);
    labUp(MIXED);
    ws = mixedWorkspace("e2e-mixed", { roll: { drain: true, drainTimeoutSeconds: 60 } });
  });

  after(() => {
    labDown();
  });

  it("discover, with an agent: its stack file, tweaks on and the fixture's version set, plans per node what the fixture's stack plans; read-only", async () => {
    const mark = eventMark();
    const discovered = discoverLab("e2e-mixed-discover", MIXED);
    assert.strictEqual(discovered.status, 0, discovered.output);
    const validated = validateStackFile(discovered.file);
    assert.strictEqual(validated.status, 0, validated.output);
    // As discovered: the servers' config.yaml in the program's form without a restart; the
    // agent's VM restarts for the disk options the warning named (its disk alone has none).
    assert.ok(
      discovered.output.includes("warning: the nodes' etcd disks differ"),
      discovered.output,
    );
    const asDiscovered = await new Workspace(
      "e2e-mixed-as-discovered",
      "mixed",
      discovered.file,
      TOKEN,
    ).preview(false);
    assert.strictEqual(asDiscovered.status, 0, asDiscovered.output);
    const first = rollReasons(asDiscovered.output);
    for (const server of SERVERS) {
      assert.match(
        first[server] ?? "",
        /^config\.yaml in the program's form \([a-z, -]+\): the settings K3s runs with now, written without a restart$/,
        asDiscovered.output,
      );
    }
    assert.strictEqual(
      first[AGENT],
      "qm reboot (cache none→writeback, iothread 0→1); config.yaml (token, token-file)",
      asDiscovered.output,
    );
    const fixture = loadFixture(MIXED);
    const tweaked = switchOnTweaks(discovered.file, {
      k3sVersion: fixture.k3s.stableVersion,
      installerUrl: `http://127.0.0.1:${fixture.installerPort}/install.sh`,
    });
    const fromDiscover = await new Workspace(
      "e2e-mixed-discovered",
      "mixed",
      tweaked,
      TOKEN,
    ).preview(false);
    assert.strictEqual(fromDiscover.status, 0, fromDiscover.output);
    const fromFixture = await mixedWorkspace("e2e-mixed-plan", {}).preview(false);
    assert.strictEqual(fromFixture.status, 0, fromFixture.output);
    const planned = rollReasons(fromFixture.output);
    assert.deepStrictEqual(Object.keys(planned).sort(), [...NODES].sort(), fromFixture.output);
    assert.deepStrictEqual(rollReasons(fromDiscover.output), planned, fromDiscover.output);
    assert.deepStrictEqual(
      eventsSince(mark).filter((e) => e.mutating),
      [],
    );
  });

  it("rolls servers before the agent, draining each node before its restart and uncordoning it after its gate; a node cordoned by hand stays cordoned", async () => {
    sh(PVE.address, PVE.name, `k3s kubectl cordon ${BY_HAND}`);
    const preview = await ws.preview(false);
    assert.strictEqual(preview.status, 0, preview.output);
    assert.match(
      preview.output,
      /node `k3s-vm-fawn`: cordoned, not by this tool; the roll leaves it cordoned/,
    );
    assert.ok(
      preview.output.includes(
        `  4. ${AGENT}: qm reboot (cache none→writeback, iothread 0→1); K3s v1.33.5+k3s1→v1.33.6+k3s1`,
      ),
      preview.output.slice(-3000),
    );
    const mark = eventMark();
    const run = await ws.up();
    assert.strictEqual(run.status, 0, run.output);
    const events = eventsSince(mark);
    const down = downIntervals(events, NODES);
    const downOf = (node: string) => down.filter((i) => i.host === node);
    for (const node of NODES) assert.ok(downOf(node).length > 0, `${node} never restarted`);
    const lastServerBack = Math.max(...down.filter((i) => i.host !== AGENT).map((i) => i.to));
    assert.ok(
      downOf(AGENT)[0].from > lastServerBack,
      "the agent went down before a server was back",
    );

    const changes = nodeChanges(events);
    for (const node of NODES) {
      const first: Interval = downOf(node)[0];
      const drained = changes.find((c) => c.node === node && c.verb === "drain");
      const uncordoned = changes.find((c) => c.node === node && c.verb === "uncordon");
      assert.ok(drained && drained.ts < first.from, `${node}: not drained before its restart`);
      if (node === BY_HAND) {
        assert.strictEqual(uncordoned, undefined, `${node} was cordoned by hand`);
        continue;
      }
      assert.ok(
        uncordoned && uncordoned.ts > Math.max(...downOf(node).map((i) => i.to)),
        `${node}: not uncordoned after it came back`,
      );
    }
    assert.match(run.output, /k3s-vm-fawn: k3s-vm-fawn was already cordoned, not by this tool/);
    assert.deepStrictEqual(schedulability(), { ...allSchedulable, [BY_HAND]: "true/" });
    sh(PVE.address, PVE.name, `k3s kubectl uncordon ${BY_HAND}`);
    const outputs = (await ws.outputs()).nodes as Record<string, { roll: { done: string[] } }>;
    assert.deepStrictEqual(outputs[AGENT].roll.done, [
      "config.yaml rewritten",
      "K3s v1.33.5+k3s1->v1.33.6+k3s1 installed",
      "drained",
      "qm reboot (cache none->writeback iothread 0->1)",
      "uncordoned",
    ]);
  });

  it("drains nothing when the roll's steps run again but no restart follows", async () => {
    editStack(ws, (c) => (c["k3s-homelab:cluster"].roll.drainTimeoutSeconds = 90));
    const mark = eventMark();
    const run = await ws.up();
    assert.strictEqual(run.status, 0, run.output);
    assert.match(run.output, /k3s-agent-pve: no restart follows: k3s-agent-pve is not drained/);
    const events = eventsSince(mark);
    assert.deepStrictEqual(nodeChanges(events), []);
    assert.deepStrictEqual(downIntervals(events, NODES), []);
  });

  it("repair restarts only the unhealthy member, then the cluster is healthy again", async () => {
    sh("127.0.0.22", "k3s-vm-piglet", "systemctl stop k3s");
    const refused = await ws.preview(false);
    assert.strictEqual(refused.status, 1);
    assert.match(
      refused.output,
      /to restart only the unhealthy \(k3s-vm-piglet\), one at a time and gated, before the roll: set `cluster\.roll\.repair: true`/,
    );
    editStack(ws, (c) => (c["k3s-homelab:cluster"].roll.repair = true));
    const preview = await ws.preview(false);
    assert.strictEqual(preview.status, 0, preview.output);
    assert.match(preview.output, /  - k3s-vm-piglet: restart K3s \(its etcd member is not healthy/);
    const mark = eventMark();
    const run = await ws.up();
    assert.strictEqual(run.status, 0, run.output);
    const events = eventsSince(mark);
    const started = events.filter(
      (e) => e.tool === "systemctl" && e.mutating && ["start", "restart"].includes(e.action),
    );
    assert.deepStrictEqual(
      started.map((e) => `${e.host} ${e.action}`),
      ["k3s-vm-piglet start"],
    );
    assert.match(
      run.output,
      /k3s-vm-fawn: repair: k3s runs and its etcd member is healthy: left alone/,
    );
    const health = sh(
      PVE.address,
      PVE.name,
      // The lab's etcdctl (real K3s guests have none) with K3s's client certificate.
      "T=/var/lib/rancher/k3s/server/tls/etcd; /run/k3s-homelab-lab/bin/etcdctl --cacert $T/server-ca.crt --cert $T/client.crt --key $T/client.key --endpoints https://198.18.0.21:2379,https://198.18.0.22:2379,https://198.18.0.23:2379 endpoint health 2>&1 | grep -c 'is healthy'",
    );
    assert.strictEqual(health, "3");
    // The owner turns repair off again: nothing restarts.
    editStack(ws, (c) => (c["k3s-homelab:cluster"].roll.repair = false));
    const off = eventMark();
    const after = await ws.up();
    assert.strictEqual(after.status, 0, after.output);
    assert.deepStrictEqual(downIntervals(eventsSince(off), NODES), []);
  });

  it("a drain that cannot finish stops the roll at that node, uncordons it and restarts nothing; a re-run completes", async () => {
    labDown();
    labUp(MIXED);
    // A real PodDisruptionBudget that allows no eviction of the one pod pinned to k3s-vm-piglet.
    kubectlApply(PVE.address, PVE.name, pinnedUnderBudget("k3s-vm-piglet"));
    waitPodsReady(PVE.address, PVE.name, "pinned");
    const blocked = mixedWorkspace("e2e-drain-blocked", {
      roll: { drain: true, drainTimeoutSeconds: 10 },
    });
    const mark = eventMark();
    const failed = await blocked.up();
    assert.strictEqual(failed.status, 1);
    assert.match(
      failed.output,
      /k3s-vm-piglet: FAILED: drain of k3s-vm-piglet did not finish in 10s \(.*global timeout reached: 10s.*\); uncordoned it again; nothing was restarted/,
    );
    const events = eventsSince(mark);
    assert.deepStrictEqual(
      downIntervals(events, NODES).map((i) => i.host),
      ["k3s-vm-pve"],
    );
    assert.deepStrictEqual(
      nodeChanges(events)
        .filter((c) => c.node !== "k3s-vm-pve")
        .map((c) => `${c.verb} ${c.node}`),
      [
        "annotate k3s-vm-piglet",
        "drain k3s-vm-piglet",
        "uncordon k3s-vm-piglet",
        "annotate k3s-vm-piglet",
      ],
    );
    assert.deepStrictEqual(schedulability(), allSchedulable);

    sh(PVE.address, PVE.name, "k3s kubectl delete deployment/pinned pdb/pinned");

    // A pod without a controller: kubectl refuses to drain without --force, which the tool never
    // passes; the roll stops at once, uncordons the node and restarts nothing.
    kubectlApply(PVE.address, PVE.name, barePod("k3s-vm-piglet"));
    waitPodsReady(PVE.address, PVE.name, "bare");
    const bareMark = eventMark();
    const refused = await blocked.up();
    assert.strictEqual(refused.status, 1);
    assert.match(
      refused.output,
      /k3s-vm-piglet: FAILED: drain of k3s-vm-piglet failed \(.*cannot delete Pods that declare no controller.*default\/bare.*\) \(this tool never drains with --force: delete or move those pods, or run them under a controller\); uncordoned it again; nothing was restarted/,
    );
    assert.deepStrictEqual(downIntervals(eventsSince(bareMark), NODES), []);
    assert.deepStrictEqual(schedulability(), allSchedulable);
    sh(PVE.address, PVE.name, "k3s kubectl delete pod bare");
    const again = await blocked.up();
    assert.strictEqual(again.status, 0, again.output);
    for (const node of NODES) {
      const version = sh(
        PVE.address,
        PVE.name,
        `k3s kubectl get node ${node} -o jsonpath='{.status.nodeInfo.kubeletVersion}'`,
      );
      assert.strictEqual(version, "v1.33.6+k3s1", node);
    }
    assert.deepStrictEqual(schedulability(), allSchedulable);
  });
  it("a node the controller-manager marks NotReady while its K3s is down: nothing restarts; started again, the roll completes", async () => {
    labDown();
    labUp(MIXED);
    const ws2 = mixedWorkspace("e2e-notready", { roll: { drain: true, drainTimeoutSeconds: 60 } });
    const agent = { address: "127.0.0.24", name: AGENT };
    sh(agent.address, agent.name, "systemctl stop k3s-agent");
    const stopped = Date.now();
    // The real node-lifecycle controller: Unknown once the lease is older than
    // --node-monitor-grace-period (the fixture's nodeMonitorGracePeriodSeconds, 40 s).
    await waitReadyStatus(AGENT, "Unknown", 120_000);
    const after = (Date.now() - stopped) / 1000;
    assert.ok(after >= 30, `${AGENT} was Unknown after only ${after} s`);
    assert.strictEqual(
      sh(
        PVE.address,
        PVE.name,
        `k3s kubectl get node ${AGENT} -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}'`,
      ),
      "Kubelet stopped posting node status.",
    );
    const mark = eventMark();
    const run = await ws2.up();
    assert.strictEqual(run.status, 1, run.output);
    assert.match(run.output, new RegExp(`${AGENT}`));
    assert.deepStrictEqual(downIntervals(eventsSince(mark), NODES), []);
    sh(agent.address, agent.name, "systemctl start k3s-agent");
    await waitReadyStatus(AGENT, "True", 60_000);
    const again = await ws2.up();
    assert.strictEqual(again.status, 0, again.output);
  });
});
