import * as assert from "assert";
import { ask } from "../../lab/supervisors";
import { eventMark, eventsSince, labDown, onHost, requireLabMachine, Workspace } from "./harness";
import { waitFor } from "./childRun";
import { downIntervals } from "./rollChecks";
import { labHostKey, POST_GUESTS } from "./postCluster";
import { assertConverged, freshRoll, gated, GUESTS, mutatingOn, poweroffOf } from "./recovery";
import { editStack } from "./stackEdit";

/**
 * Connections that drop (issue 14, part 2): every sshd of a Proxmox host killed while the roll's
 * disk step waits on that host for its `qm reboot`; every sshd of a guest killed during its
 * prepare step, and while its restart step waits for K3s. Run as root, under the lab lock:
 * flock /tmp/k3s-homelab-lab.lock npx mocha --no-config --require ts-node/register/transpile-only --timeout 1800000 --exit test/e2e/droppedConnection.test.ts
 */

const [PVE, PIGLET, FAWN] = POST_GUESTS;

const errorLines = (output: string) =>
  output
    .split("\n")
    .filter((l) => /error/i.test(l))
    .map((l) => l.slice(0, 200))
    .slice(-6)
    .join("\n");

describe("e2e: a connection that drops mid-step", function () {
  this.timeout(30 * 60 * 1000);

  before(function () {
    requireLabMachine(this);
  });

  after(() => labDown());

  it("the Proxmox host's sshd killed during the disk step's qm reboot: up fails naming the node's step; sshd back, up waits for the VM and converges", async () => {
    const ws = await freshRoll("e2e-dropped-host");
    const mark = eventMark();
    const up = ws.up();
    await waitFor(
      `${PIGLET.name}'s poweroff (its qm reboot)`,
      () => eventsSince(mark).find(poweroffOf(PIGLET.name)),
      10 * 60 * 1000,
    );
    const killed = await ask(PIGLET.host, { op: "sshd-kill" });
    assert.ok(killed.ok, JSON.stringify(killed));
    const failed = await up;
    const events = eventsSince(mark);
    console.log(
      `      killed ${PIGLET.host}'s sshd (${JSON.stringify(killed.killed)}); up exited ${failed.status}; its errors:\n${errorLines(failed.output)}`,
    );
    assert.strictEqual(failed.status, 1, failed.output.slice(-3000));
    // The step's resource names node and step; the cause is the SSH library's (with the stand-in:
    // "wait: remote command exited without exit status or exit signal").
    assert.match(failed.output, /k3s-vm-piglet-disk \*\*creating failed\*\* error: /);
    // Nothing of the last node's roll started; only the first two servers went down.
    assert.deepStrictEqual(mutatingOn(events, [FAWN.name, FAWN.host]), []);
    assert.deepStrictEqual(
      downIntervals(events, GUESTS).map((i) => i.host),
      [PVE.name, PIGLET.name],
    );

    const started = await ask(PIGLET.host, { op: "sshd-start" });
    assert.ok(started.ok, JSON.stringify(started));
    const next = await ws.up();
    assert.strictEqual(next.status, 0, next.output.slice(-4000));
    // The qm reboot went on without its connection: the next up waited for the VM it restarts.
    assert.match(
      next.output,
      /waiting \(\d+ s of 120 s, gateTimeoutSeconds\) before the preflight: restarting \(a qm reboot in flight, or its guest still booting\): k3s-vm-piglet \(VM 106 on piglet, /,
    );
    for (const g of [PIGLET, FAWN]) assert.match(next.output, gated(g.name), g.name);
    assertConverged(mark);
  });
  it("a guest's sshd killed during its prepare step (its etcd snapshot just saved, the installer next): up fails naming the step, nothing after it ran; sshd back, preview says what is owed, up converges", async () => {
    const ws = await freshRoll("e2e-dropped-guest");
    const mark = eventMark();
    const up = ws.up();
    await waitFor(
      `${PIGLET.name}'s etcd snapshot (its prepare step)`,
      () =>
        eventsSince(mark).find(
          (e) =>
            e.host === PIGLET.name &&
            e.action === "etcd-snapshot" &&
            Array.isArray(e.args) &&
            e.args[0] === "save",
        ),
      10 * 60 * 1000,
    );
    const killed = await ask(PIGLET.name, { op: "sshd-kill" });
    assert.ok(killed.ok, JSON.stringify(killed));
    const failed = await up;
    const events = eventsSince(mark);
    console.log(
      `      killed ${PIGLET.name}'s sshd; up exited ${failed.status}; its errors:\n${errorLines(failed.output)}`,
    );
    assert.strictEqual(failed.status, 1, failed.output.slice(-3000));
    assert.match(failed.output, /k3s-vm-piglet-prepare \*\*creating failed\*\* error: /);
    // No step after prepare ran: piglet's VM was not restarted, nothing of fawn's roll started.
    assert.deepStrictEqual(mutatingOn(events, [FAWN.name, FAWN.host]), []);
    assert.deepStrictEqual(
      events.filter(poweroffOf(PIGLET.name)).map((e) => e.host),
      [],
      "piglet's VM restarted after its prepare failed",
    );

    const started = await ask(PIGLET.name, { op: "sshd-start" });
    assert.ok(started.ok, JSON.stringify(started));
    // What the node is left with: its VM restart and K3s upgrade are still owed.
    const preview = await ws.preview(false);
    assert.strictEqual(preview.status, 0, preview.output.slice(-3000));
    const owed =
      /2\. k3s-vm-piglet: qm reboot \(cache none→writeback, iothread 0→1\); K3s v1\.32\.4\+k3s1→v1\.33\.6\+k3s1.*/;
    assert.match(preview.output, owed);
    console.log(`      preview: ${preview.output.match(owed)![0]}`);
    const next = await ws.up();
    assert.strictEqual(next.status, 0, next.output.slice(-4000));
    for (const g of [PIGLET, FAWN]) assert.match(next.output, gated(g.name), g.name);
    assertConverged(mark);
  });
  // Goes on from the cluster the test above converged (its lab stays up until after()).
  it("a guest's sshd killed while its restart step waits for K3s to come back (a node config change, no VM restart): up fails naming the step; sshd back, the next up still runs that node's gate before the next node", async () => {
    const ws = new Workspace("e2e-dropped-restart");
    editStack(ws, (config) => {
      config["k3s-homelab:nodes"][PIGLET.name].config = {
        "node-label": ["homelab.test/dropped=1"],
      };
    });
    const mark = eventMark();
    const up = ws.up();
    await waitFor(
      `${PIGLET.name}'s systemctl restart k3s (its restart step)`,
      () =>
        eventsSince(mark).find(
          (e) =>
            e.host === PIGLET.name &&
            e.tool === "systemctl" &&
            e.action === "restart" &&
            JSON.stringify(e.units).includes("k3s"),
        ),
      10 * 60 * 1000,
    );
    const killed = await ask(PIGLET.name, { op: "sshd-kill" });
    assert.ok(killed.ok, JSON.stringify(killed));
    const failed = await up;
    console.log(`      killed ${PIGLET.name}'s sshd; up exited ${failed.status}`);
    assert.strictEqual(failed.status, 1, failed.output.slice(-3000));
    assert.match(failed.output, /k3s-vm-piglet-restart \*\*creating failed\*\* error: /);
    assert.doesNotMatch(failed.output, gated(PIGLET.name));
    assert.deepStrictEqual(mutatingOn(eventsSince(mark), [FAWN.name, FAWN.host]), []);

    const started = await ask(PIGLET.name, { op: "sshd-start" });
    assert.ok(started.ok, JSON.stringify(started));
    // K3s restarted with the new config without its connection. The owner waits until the node is
    // back (preflight refuses a cluster whose member is still starting), then runs up: the gate
    // is still owed.
    await waitFor(
      `${PIGLET.name} Ready again`,
      () => {
        const ready = onHost(
          PIGLET.address,
          labHostKey(PIGLET.name),
          `k3s kubectl get node ${PIGLET.name} -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'`,
        );
        return ready.status === 0 && ready.stdout.trim() === "True" ? true : undefined;
      },
      120 * 1000,
    );
    const next = await ws.up();
    assert.strictEqual(next.status, 0, next.output.slice(-4000));
    assert.match(next.output, /k3s-vm-piglet: k3s already runs the current binary and config/);
    assert.match(next.output, gated(PIGLET.name));
    const gatedAt = next.output.search(gated(PIGLET.name));
    assert.ok(
      next.output.search(/k3s-vm-fawn-check creating/) > gatedAt,
      "the last node's roll began before piglet's gate passed",
    );
    assertConverged(mark);
  });
});
