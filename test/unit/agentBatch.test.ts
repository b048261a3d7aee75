import * as assert from "assert";
import { rollBatches, rollPlan } from "../../components/rollPlan";
import { agentBatchSize, buildClusterSpec, ConfigError } from "../../config";
import { agentBatchLine, formatPlan } from "../../plan";
import { validRaw } from "./fixtures";

/** The valid stack with `agents` agents (agent-1, agent-2, ...) after the three servers. */
function withAgents(agents: number, agentBatch?: unknown): ReturnType<typeof validRaw> {
  const raw = validRaw();
  const names = Array.from({ length: agents }, (_, i) => `agent-${i + 1}`);
  names.forEach((name, i) => {
    raw.nodes[name] = {
      ...raw.nodes["k3s-vm-fawn"],
      vmid: 120 + i,
      role: "agent",
      address: `10.0.0.${31 + i}`,
    };
  });
  raw.cluster.rollOrder = ["k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn", ...names];
  if (agentBatch !== undefined) raw.cluster.roll = { agentBatch };
  return raw;
}

const specOf = (agents: number, agentBatch?: unknown) =>
  buildClusterSpec(withAgents(agents, agentBatch)).spec;

function problemsOf(agentBatch: unknown): readonly string[] {
  try {
    buildClusterSpec(withAgents(2, agentBatch));
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("cluster.roll.agentBatch: batch size", () => {
  it("is 1 by default", () => {
    assert.strictEqual(specOf(4).roll.agentBatch, 1);
  });

  it("takes a count as given, and all agents when it is larger", () => {
    assert.strictEqual(agentBatchSize(2, 5), 2);
    assert.strictEqual(agentBatchSize(5, 5), 5);
    assert.strictEqual(agentBatchSize(9, 5), 5);
  });

  it("takes a percentage of the agents rounded up, never below 1", () => {
    assert.strictEqual(agentBatchSize("20%", 10), 2);
    assert.strictEqual(agentBatchSize("20%", 11), 3);
    assert.strictEqual(agentBatchSize("20%", 25), 5);
    assert.strictEqual(agentBatchSize("1%", 3), 1);
    assert.strictEqual(agentBatchSize("50%", 5), 3);
    assert.strictEqual(agentBatchSize("100%", 4), 4);
    assert.strictEqual(agentBatchSize("20%", 0), 1);
  });

  it("accepts a count and a percentage from the stack file", () => {
    assert.strictEqual(specOf(4, 3).roll.agentBatch, 3);
    assert.strictEqual(specOf(4, "25%").roll.agentBatch, "25%");
    assert.strictEqual(specOf(4, "100%").roll.agentBatch, "100%");
  });

  it("refuses anything else, naming the field and the value", () => {
    const rule =
      'a whole number of agents (1 or more) or a percentage of them from `1%` to `100%`, such as `2` or `"20%"`';
    for (const bad of [0, -2, 2.5, "0%", "101%", "12.5%", "20", "two", "20 %"]) {
      assert.deepStrictEqual(
        problemsOf(bad),
        [`cluster, \`roll.agentBatch\`: \`${bad}\` is not ${rule}`],
        String(bad),
      );
    }
    for (const bad of [true, null, ["2"]]) {
      assert.deepStrictEqual(
        problemsOf(bad),
        [`cluster, \`roll.agentBatch\`: must be ${rule}`],
        JSON.stringify(bad),
      );
    }
  });

  it("still refuses an unknown roll key beside it", () => {
    const raw = withAgents(2);
    raw.cluster.roll = { agentBatch: 2, agentBatchSize: 2 };
    assert.throws(
      () => buildClusterSpec(raw),
      (e: ConfigError) => e.problems.join("\n") === "cluster, `roll`: unknown key `agentBatchSize`",
    );
  });
});

describe("cluster.roll.agentBatch: batches", () => {
  const names = (batches: ReturnType<typeof rollBatches>) =>
    batches.map((b) => b.map((e) => e.node.name));

  it("by default rolls every node alone, servers first, in the same order as before", () => {
    const spec = specOf(3);
    assert.deepStrictEqual(names(rollBatches(spec)), [
      ["k3s-vm-pve"],
      ["k3s-vm-piglet"],
      ["k3s-vm-fawn"],
      ["agent-1"],
      ["agent-2"],
      ["agent-3"],
    ]);
    assert.ok(rollPlan(spec).every((e) => e.batchMates.length === 0));
  });

  it("groups agents in roll order, the last batch holding the rest; servers stay alone", () => {
    const spec = specOf(5, 2);
    assert.deepStrictEqual(names(rollBatches(spec)), [
      ["k3s-vm-pve"],
      ["k3s-vm-piglet"],
      ["k3s-vm-fawn"],
      ["agent-1", "agent-2"],
      ["agent-3", "agent-4"],
      ["agent-5"],
    ]);
    assert.deepStrictEqual(
      rollPlan(spec).map((e) => [e.node.name, e.batchMates.map((n) => n.name)]),
      [
        ["k3s-vm-pve", []],
        ["k3s-vm-piglet", []],
        ["k3s-vm-fawn", []],
        ["agent-1", ["agent-2"]],
        ["agent-2", ["agent-1"]],
        ["agent-3", ["agent-4"]],
        ["agent-4", ["agent-3"]],
        ["agent-5", []],
      ],
    );
    assert.ok(rollPlan(spec).every((e) => e.node.role === "server" || e.fsyncVia.length === 0));
  });

  it("follows rollOrder for the agents, and a percentage of them", () => {
    const raw = withAgents(5, "40%");
    raw.cluster.rollOrder = [
      "agent-5",
      "k3s-vm-pve",
      "agent-3",
      "k3s-vm-piglet",
      "agent-1",
      "agent-2",
      "k3s-vm-fawn",
      "agent-4",
    ];
    assert.deepStrictEqual(names(rollBatches(buildClusterSpec(raw).spec)).slice(3), [
      ["agent-5", "agent-3"],
      ["agent-1", "agent-2"],
      ["agent-4"],
    ]);
  });

  it("rolls all agents together when the count is at least their number", () => {
    assert.deepStrictEqual(names(rollBatches(specOf(3, 7))).slice(3), [
      ["agent-1", "agent-2", "agent-3"],
    ]);
  });
});

describe("cluster.roll.agentBatch: the plan preview prints", () => {
  it("names each batch, with the share when given as a percentage", () => {
    assert.strictEqual(
      agentBatchLine(specOf(5, 2)),
      "agents in batches of 2: [agent-1, agent-2], then [agent-3, agent-4], then [agent-5] (cluster.roll.agentBatch: a batch's nodes roll together; the next batch starts once each of them passed its gate)",
    );
    assert.strictEqual(
      agentBatchLine(specOf(5, "50%")),
      "agents in batches of 3 (50% of 5): [agent-1, agent-2, agent-3], then [agent-4, agent-5] (cluster.roll.agentBatch: a batch's nodes roll together; the next batch starts once each of them passed its gate)",
    );
  });

  it("says nothing of batches when agents roll one at a time", () => {
    assert.strictEqual(agentBatchLine(specOf(3)), undefined);
    assert.strictEqual(agentBatchLine(specOf(3, "10%")), undefined);
    assert.strictEqual(agentBatchLine(specOf(1, 4)), undefined);
    assert.strictEqual(agentBatchLine(specOf(0, 4)), undefined);
  });

  it("puts the batches under the roll's lines, with a heading that says so", () => {
    const plan = [
      { node: "k3s-vm-pve", restart: "k3s" as const, reasons: ["K3s restart"] },
      { node: "agent-1", restart: "vm" as const, reasons: ["qm reboot"] },
      { node: "agent-2", restart: "none" as const, reasons: [] },
    ];
    const line = "agents in batches of 2: [agent-1, agent-2] (...)";
    assert.strictEqual(
      formatPlan(plan, [], true, "fsync line", line),
      [
        "roll plan (servers one at a time, then agents in batches; a node is drained before its restart):",
        "  1. k3s-vm-pve: K3s restart",
        "  2. agent-1: qm reboot",
        "  3. agent-2: nothing to restart",
        line,
        "fsync line",
      ].join("\n"),
    );
    assert.strictEqual(
      formatPlan(plan).split("\n")[0],
      "roll plan (one node at a time, servers first):",
    );
  });
});
