import * as assert from "assert";
import { rollPlan } from "../../components/rollPlan";
import { rollFingerprint } from "../../components/K3sNode";
import { buildClusterSpec } from "../../config";
import { validRaw } from "./fixtures";

describe("rollPlan", () => {
  it("puts servers first in listed order, then agents gated through the first server", () => {
    const raw = validRaw();
    const agent = (vmid: number) => ({
      ...raw.nodes["k3s-vm-fawn"],
      vmid,
      role: "agent",
      address: `10.0.0.${vmid - 90}`,
    });
    raw.nodes = {
      "agent-b": agent(120),
      "k3s-vm-fawn": raw.nodes["k3s-vm-fawn"],
      "agent-a": agent(121),
      "k3s-vm-pve": raw.nodes["k3s-vm-pve"],
      "k3s-vm-piglet": raw.nodes["k3s-vm-piglet"],
    };
    raw.cluster.rollOrder = ["agent-b", "k3s-vm-fawn", "agent-a", "k3s-vm-pve", "k3s-vm-piglet"];
    const plan = rollPlan(buildClusterSpec(raw).spec);
    assert.deepStrictEqual(
      plan.map((e) => [e.node.name, e.gateVia.name]),
      [
        ["k3s-vm-fawn", "k3s-vm-fawn"],
        ["k3s-vm-pve", "k3s-vm-pve"],
        ["k3s-vm-piglet", "k3s-vm-piglet"],
        ["agent-b", "k3s-vm-fawn"],
        ["agent-a", "k3s-vm-fawn"],
      ],
    );
    // Each server's roll first reads every other server's etcd member; an agent's reads none.
    assert.deepStrictEqual(
      plan.map((e) => [e.node.name, e.fsyncVia.map((n) => n.name)]),
      [
        ["k3s-vm-fawn", ["k3s-vm-pve", "k3s-vm-piglet"]],
        ["k3s-vm-pve", ["k3s-vm-fawn", "k3s-vm-piglet"]],
        ["k3s-vm-piglet", ["k3s-vm-fawn", "k3s-vm-pve"]],
        ["agent-b", []],
        ["agent-a", []],
      ],
    );
  });

  it("refuses a cluster without a server", () => {
    assert.throws(() => rollPlan({ nodes: [] }), /rollPlan: the cluster has no server/);
  });
});

describe("rollFingerprint", () => {
  const node = buildClusterSpec(validRaw()).spec.nodes[0];
  const disk = { cache: "writeback" as const, iothread: true };
  const off = { drain: false, drainTimeoutSeconds: 300 };

  it("ignores the drain settings while drain is off", () => {
    assert.strictEqual(
      rollFingerprint(node, "x", disk, off),
      rollFingerprint(node, "x", disk, { ...off, drainTimeoutSeconds: 60 }),
    );
    assert.strictEqual(rollFingerprint(node, "x", disk, off), rollFingerprint(node, "x", disk));
  });

  it("changes when drain is turned on or its timeout changes, so every step runs again", () => {
    const on = rollFingerprint(node, "x", disk, { drain: true, drainTimeoutSeconds: 300 });
    assert.notStrictEqual(on, rollFingerprint(node, "x", disk, off));
    assert.notStrictEqual(
      on,
      rollFingerprint(node, "x", disk, { drain: true, drainTimeoutSeconds: 60 }),
    );
  });
});
