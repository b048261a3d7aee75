import * as assert from "assert";
import { mkdirSync, rmSync, writeFileSync } from "fs";
import { join } from "path";
import {
  eventMark,
  eventsSince,
  fixtureWith,
  labDown,
  labUp,
  onHost,
  REPO,
  requireLabMachine,
  stackFileWith,
  Workspace,
} from "./harness";
import { labHostKey } from "./postCluster";

const mutatingOn = (events: ReturnType<typeof eventsSince>, hosts: string[]) =>
  events
    .filter((e) => e.mutating && hosts.includes(e.host))
    .map((e) => `${e.host} ${e.tool} ${e.action}`);
const POST = join(REPO, "lab", "fixtures", "post.yaml");
const FAULT_DIR = join(REPO, ".lab", "shared", "faults");

describe("e2e: the roll refuses what is unsafe and stops at a failed gate", function () {
  this.timeout(30 * 60 * 1000);

  before(function () {
    requireLabMachine(this);
  });

  afterEach(() => {
    labDown();
  });

  it("refuses to start on an unhealthy cluster and changes nothing", async () => {
    labUp(POST);
    const stopped = onHost("127.0.0.22", labHostKey("k3s-vm-piglet"), "systemctl stop k3s");
    assert.strictEqual(stopped.status, 0, stopped.output);
    const ws = new Workspace("e2e-unhealthy");
    const mark = eventMark();
    const run = await ws.up();
    assert.strictEqual(run.status, 1);
    assert.match(
      run.output,
      /cluster unhealthy, refusing to start: node `k3s-vm-piglet`: its etcd member is not healthy/,
    );
    assert.deepStrictEqual(
      mutatingOn(eventsSince(mark), [
        "pve",
        "piglet",
        "fawn",
        "k3s-vm-pve",
        "k3s-vm-piglet",
        "k3s-vm-fawn",
      ]),
      [],
    );
  });

  it("refuses to roll while a server's etcd member is a learner K3s has not promoted", async () => {
    labUp(POST);
    const fawn = labHostKey("k3s-vm-fawn");
    const pve = labHostKey("k3s-vm-pve");
    // The lab's etcdctl with K3s's client certificate (a real K3s guest has no etcdctl).
    const etcdctl =
      "T=/var/lib/rancher/k3s/server/tls/etcd; /run/k3s-homelab-lab/bin/etcdctl --cacert $T/server-ca.crt --cert $T/client.crt --key $T/client.key --endpoints https://127.0.0.1:2379";
    // fawn rejoins from scratch: stopped, its member removed, its data wiped, started again. The
    // leader holds its promotion (faults/<guest>/etcd-learner), so it stays a learner.
    mkdirSync(join(FAULT_DIR, "k3s-vm-fawn"), { recursive: true });
    writeFileSync(join(FAULT_DIR, "k3s-vm-fawn", "etcd-learner"), "");
    const stop = onHost("127.0.0.23", fawn, "systemctl stop k3s");
    assert.strictEqual(stop.status, 0, stop.output);
    const removed = onHost(
      "127.0.0.21",
      pve,
      `${etcdctl} member remove $(${etcdctl} member list | grep k3s-vm-fawn | cut -d, -f1)`,
    );
    assert.strictEqual(removed.status, 0, removed.output);
    const started = onHost(
      "127.0.0.23",
      fawn,
      "rm -rf /var/lib/rancher/k3s/server/db/etcd; setsid systemctl start k3s </dev/null >/dev/null 2>&1 &",
    );
    assert.strictEqual(started.status, 0, started.output);
    // Polled from here, one short SSH call each, so a slow rejoin fails with the member list
    // rather than with the SSH call's own timeout (CI once saw `spawnSync ssh ETIMEDOUT` here).
    const waitStart = Date.now();
    const deadline = waitStart + 180_000;
    let members = "";
    for (;;) {
      members = onHost("127.0.0.21", pve, `${etcdctl} member list`).output;
      if (/k3s-vm-fawn-.*, true$/m.test(members)) {
        console.log(`      fawn a learner after ${Math.round((Date.now() - waitStart) / 1000)} s`);
        break;
      }
      if (Date.now() > deadline) assert.fail(`fawn is not a learner after 180 s:\n${members}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    const ws = new Workspace("e2e-learner");
    const mark = eventMark();
    const run = await ws.up();
    rmSync(join(FAULT_DIR, "k3s-vm-fawn"), { recursive: true, force: true });
    assert.strictEqual(run.status, 1);
    assert.match(
      run.output,
      /cluster unhealthy, refusing to start: etcd member `k3s-vm-fawn-[0-9a-f]{8}` is a learner, not a voter: K3s is still promoting it/,
    );
    assert.deepStrictEqual(
      mutatingOn(eventsSince(mark), ["k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn"]),
      [],
    );
  });

  it("refuses a downgrade and a skipped minor at preview", async () => {
    labUp(
      fixtureWith("old", (f) =>
        f.guests.forEach((g: { k3sVersion: string }) => (g.k3sVersion = "v1.31.13+k3s1")),
      ),
    );
    const jump = await new Workspace("e2e-jump").preview();
    assert.strictEqual(jump.status, 1);
    assert.match(
      jump.output,
      /node `k3s-vm-pve`, `k3sVersion`: runs v1\.31\.13\+k3s1; v1\.33\.6\+k3s1 skips a minor release \(upgrade one minor at a time\), refusing/,
    );
    const older = stackFileWith(
      "older",
      (c) => (c["k3s-homelab:cluster"].k3sVersion = "v1.31.9+k3s1"),
    );
    const down = await new Workspace("e2e-downgrade", "lab", older).preview();
    assert.strictEqual(down.status, 1);
    assert.match(
      down.output,
      /node `k3s-vm-pve`, `k3sVersion`: runs v1\.31\.13\+k3s1; v1\.31\.9\+k3s1 would downgrade it, refusing/,
    );
  });

  it("K3s killed (SIGKILL, as the OOM killer would) on a server just after it came back: systemd's Restart=always starts it again and the gate passes", async () => {
    labUp(POST);
    const ws = new Workspace("e2e-crash");
    const mark = eventMark();
    const running = ws.up();
    const backAtBoot = () =>
      eventsSince(mark).some(
        (e) => e.host === "k3s-vm-pve" && e.tool === "lab" && e.action === "unit-started",
      );
    const deadline = Date.now() + 5 * 60 * 1000;
    while (!backAtBoot() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.ok(backAtBoot(), "k3s-vm-pve's K3s never came back after its VM restart");
    const killed = onHost(
      "127.0.0.21",
      labHostKey("k3s-vm-pve"),
      "pid=$(systemctl show -p MainPID --value k3s) && kill -9 $pid && echo $pid",
    );
    assert.strictEqual(killed.status, 0, killed.output);
    const run = await running;
    assert.strictEqual(run.status, 0, run.output.slice(-5000));
    const restarts = onHost(
      "127.0.0.21",
      labHostKey("k3s-vm-pve"),
      "systemctl show -p NRestarts --value k3s",
    );
    assert.strictEqual(restarts.stdout.trim(), "1", restarts.output);
    console.log(
      `      killed k3s-vm-pve's K3s (pid ${killed.stdout.trim()}); NRestarts=1; up exit 0`,
    );
  });

  it("a node whose K3s keeps exiting fails at its restart, named a crash loop; later nodes are untouched; fixed, systemd starts it again and a re-run completes", async () => {
    labUp(POST);
    mkdirSync(join(FAULT_DIR, "k3s-vm-piglet"), { recursive: true });
    writeFileSync(
      join(FAULT_DIR, "k3s-vm-piglet", "k3s-start"),
      "e2e: the node does not come back\n",
    );
    const stack = stackFileWith(
      "short-gate",
      (c) => (c["k3s-homelab:cluster"].gateTimeoutSeconds = 30),
    );
    const ws = new Workspace("e2e-gate", "lab", stack);
    const mark = eventMark();
    const failed = await ws.up();
    assert.strictEqual(failed.status, 1);
    assert.match(
      failed.output,
      /k3s-vm-piglet: FAILED: k3s did not signal READY within 30s: it keeps exiting and systemd starts it again \(Restart=always; SubState=auto-restart seen/,
    );
    console.log(`      ${failed.output.split("\n").find((l) => l.includes("FAILED")) ?? ""}`);
    const events = eventsSince(mark);
    assert.ok(mutatingOn(events, ["k3s-vm-pve"]).length > 0, "the first node was rolled");
    assert.deepStrictEqual(
      mutatingOn(events, ["fawn", "k3s-vm-fawn"]),
      [],
      "the node after the failed one was touched",
    );

    // While K3s keeps exiting, preflight refuses; once the owner fixes the node, systemd's
    // Restart=always starts K3s again by itself (RestartSec=5s).
    const refused = await ws.up();
    assert.strictEqual(refused.status, 1);
    assert.match(
      refused.output,
      /cluster unhealthy, refusing to start: node `k3s-vm-piglet`: its etcd member is not healthy/,
    );
    rmSync(join(FAULT_DIR, "k3s-vm-piglet"), { recursive: true });
    const back = onHost(
      "127.0.0.22",
      labHostKey("k3s-vm-piglet"),
      "for i in $(seq 60); do systemctl is-active -q k3s && systemctl show -p NRestarts k3s && exit 0; sleep 2; done; systemctl status k3s; exit 1",
    );
    assert.strictEqual(back.status, 0, back.output);
    console.log(`      k3s-vm-piglet's K3s back by itself once fixed (${back.stdout.trim()})`);
    const again = await ws.up();
    assert.strictEqual(again.status, 0, again.output);
    for (const [address, name] of [
      ["127.0.0.22", "k3s-vm-piglet"],
      ["127.0.0.23", "k3s-vm-fawn"],
    ]) {
      const version = onHost(
        address,
        labHostKey(name),
        "k3s kubectl get node " + name + " -o jsonpath='{.status.nodeInfo.kubeletVersion}'",
      );
      assert.strictEqual(version.stdout.trim(), "v1.33.6+k3s1", name);
    }
  });

  it("a guest that cannot be reached makes up fail naming it, before any step", async () => {
    labUp(POST);
    const stop = onHost("127.0.0.13", labHostKey("fawn"), "qm stop 108");
    assert.strictEqual(stop.status, 0, stop.output);
    const ws = new Workspace("e2e-unreachable");
    const mark = eventMark();
    const run = await ws.up();
    assert.strictEqual(run.status, 1);
    assert.match(
      run.output,
      /`k3s-vm-fawn`: unreachable: cannot connect to 127\.0\.0\.23:22.*; VM 108 on `fawn` is stopped \(start it: qm start 108\)/,
    );
    assert.deepStrictEqual(
      mutatingOn(eventsSince(mark), ["pve", "piglet", "k3s-vm-pve", "k3s-vm-piglet"]),
      [],
    );
  });
});
