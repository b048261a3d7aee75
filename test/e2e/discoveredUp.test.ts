import * as assert from "assert";
import { eventMark, eventsSince, labDown, labUp, requireLabMachine, Workspace } from "./harness";
import { POST_FIXTURE, POST_GUESTS, sh } from "./postCluster";
import { discoverLab } from "./discoverRun";
import { rollReasons } from "./discoverEdit";
import { K3S_STARTED_CONFIG_FILE } from "../../render/files";

describe("e2e: the first up of a stack discover wrote, on the post's cluster", function () {
  this.timeout(30 * 60 * 1000);

  before(function () {
    requireLabMachine(this);
    labUp(POST_FIXTURE);
  });

  after(() => {
    labDown();
  });

  it("writes the program's config.yaml without a restart where K3s runs the same settings, restarts only the node the warning named, then previews as converged", async () => {
    const discovered = discoverLab("e2e-discovered-up");
    assert.strictEqual(discovered.status, 0, discovered.output);
    const ws = new Workspace("e2e-discovered-up-ws", "lab", discovered.file);
    const on = (name: string, command: string) => {
      const g = POST_GUESTS.find((x) => x.name === name)!;
      return sh(g.address, g.name, command);
    };
    const startedAt = (name: string) =>
      on(name, "systemctl show -p ActiveEnterTimestampMonotonic --value k3s");
    const before = Object.fromEntries(
      POST_GUESTS.map((g) => [
        g.name,
        { started: startedAt(g.name), config: on(g.name, "cat /etc/rancher/k3s/config.yaml") },
      ]),
    );
    const mark = eventMark();
    const up = await ws.up();
    assert.strictEqual(up.status, 0, up.output);
    const restarts = eventsSince(mark)
      .filter((e) => e.mutating)
      .map((e) => `${e.host} ${e.tool} ${e.action}`)
      .filter((m) => / qm (reboot|start|stop)| systemctl (re)?start/.test(m));
    assert.deepStrictEqual(restarts, ["k3s-vm-piglet systemctl restart"], up.output);
    for (const name of ["k3s-vm-fawn", "k3s-vm-pve"]) {
      assert.strictEqual(startedAt(name), before[name].started, `${name}'s K3s restarted`);
      assert.match(on(name, "head -n 1 /etc/rancher/k3s/config.yaml"), /^# Managed by k3s-homelab/);
      // What K3s started with stays beside it, and the steps compared against it.
      assert.strictEqual(on(name, `cat ${K3S_STARTED_CONFIG_FILE}`), before[name].config);
    }
    assert.notStrictEqual(startedAt("k3s-vm-piglet"), before["k3s-vm-piglet"].started);
    assert.strictEqual(
      on("k3s-vm-piglet", `[ -e ${K3S_STARTED_CONFIG_FILE} ] && echo kept || echo none`),
      "none",
    );
    const outputs = await ws.outputs();
    const done = (name: string) =>
      (outputs.nodes as Record<string, { roll: { done: string[] } }>)[name].roll.done;
    assert.deepStrictEqual(done("k3s-vm-fawn"), [
      "config.yaml rewritten (the settings K3s runs with: no restart)",
    ]);

    // The next preview: nothing to restart and no step to run again (the steps' scripts do not
    // change once the program's file is in place).
    const again = await ws.preview(false, true);
    assert.strictEqual(again.status, 0, again.output);
    assert.deepStrictEqual(
      rollReasons(again.output),
      Object.fromEntries(POST_GUESTS.map((g) => [g.name, "nothing to restart"])),
      again.output,
    );
    assert.match(again.output, /Resources:\n\s+\d+ unchanged/);
    assert.doesNotMatch(again.output, /\d+ to update|\d+ to replace|\d+ to create/);
  });
});
