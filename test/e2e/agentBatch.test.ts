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

const BATCH = join(REPO, "lab", "fixtures", "batch.yaml");
const TOKEN = "lab-batch-token-not-secret";
const SERVER = { address: "127.0.0.21", name: "k3s-vm-pve" };
const FIRST = ["k3s-agent-a", "k3s-agent-b"];
const SECOND = ["k3s-agent-c", "k3s-agent-d"];
const AGENTS = [...FIRST, ...SECOND];
const NODES = [SERVER.name, ...AGENTS];

/** When the gate last asked the API for `node`'s version and Ready condition: the call that
 * passed (the gate stops asking once the node is Ready at its version). */
function gatePassed(events: readonly LabEvent[], node: string): number {
  const asks = events.filter((e) => {
    if (e.tool !== "k3s" || e.action !== "kubectl") return false;
    const args = e.args as string[];
    return args.includes(node) && args.some((a) => a.includes("kubeletVersion"));
  });
  assert.ok(asks.length > 0, `${node}: no gate asked the API for it`);
  return Date.parse(asks[asks.length - 1].ts);
}

/** The most intervals open at one time. */
function mostAtOnce(intervals: readonly Interval[]): number {
  const edges = intervals.flatMap((i) => [
    { t: i.from, d: 1 },
    { t: i.to, d: -1 },
  ]);
  // At equal times an end counts before a start: touching intervals do not overlap.
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (open += e.d));
  return most;
}

const overlap = (a: Interval, b: Interval) => a.from < b.to && b.from < a.to;

describe("e2e: one server and four agents rolled two agents at a time (cluster.roll.agentBatch)", function () {
  this.timeout(30 * 60 * 1000);
  let ws: Workspace;

  before(function () {
    requireLabMachine(this);
    labUp(BATCH);
    const stack = stackFileForFixture("e2e-batch", BATCH, {
      roll: { drain: true, drainTimeoutSeconds: 120, agentBatch: 2 },
    });
    ws = new Workspace("e2e-batch", "e2e-batch", stack, TOKEN);
  });

  after(() => {
    labDown();
  });

  it("upgrades the server alone, then the agents two at a time, each batch only after the last one's gates, never more than two agents down", async () => {
    const preview = await ws.preview(false);
    assert.strictEqual(preview.status, 0, preview.output.slice(-3000));
    assert.ok(
      preview.output.includes(
        "agents in batches of 2: [k3s-agent-a, k3s-agent-b], then [k3s-agent-c, k3s-agent-d]",
      ),
      preview.output.slice(-3000),
    );

    const mark = eventMark();
    const run = await ws.up();
    assert.strictEqual(run.status, 0, run.output.slice(-5000));
    const events = eventsSince(mark);
    const down = downIntervals(events, NODES);
    const downOf = (node: string) => {
      const mine = down.filter((i) => i.host === node);
      assert.strictEqual(mine.length, 1, `${node}: ${mine.length} restarts, not one`);
      return mine[0];
    };
    for (const i of down)
      console.log(
        `      ${i.host}: down ${new Date(i.from).toISOString()} .. ${new Date(i.to).toISOString()}`,
      );

    const serverBack = downOf(SERVER.name).to;
    for (const agent of AGENTS)
      assert.ok(downOf(agent).from > serverBack, `${agent} went down before the server was back`);

    // Batch-mates roll in parallel: their restarts overlap.
    for (const [a, b] of [FIRST, SECOND])
      assert.ok(overlap(downOf(a), downOf(b)), `${a} and ${b} did not restart together`);

    // The second batch starts only once every node of the first is back and past its gate.
    const firstDone = Math.max(...FIRST.map((n) => Math.max(downOf(n).to, gatePassed(events, n))));
    for (const agent of SECOND) {
      const from = downOf(agent).from;
      assert.ok(
        from > firstDone,
        `${agent} went down at ${new Date(from).toISOString()}, before the first batch was back and gated (${new Date(firstDone).toISOString()})`,
      );
    }
    assert.strictEqual(mostAtOnce(AGENTS.map(downOf)), 2);

    // Each drain happened before its node's restart and each node was uncordoned after its gate.
    const changes = events.filter((e) => e.tool === "k3s" && e.action === "kubectl" && e.mutating);
    for (const agent of AGENTS) {
      const verbs = changes
        .filter((e) => (e.args as string[]).includes(agent))
        .map((e) => ({
          verb: (e.args as string[]).filter((a) => !a.startsWith("-"))[0],
          ts: Date.parse(e.ts),
        }));
      const drained = verbs.find((v) => v.verb === "drain");
      const uncordoned = verbs.find((v) => v.verb === "uncordon");
      assert.ok(
        drained && drained.ts < downOf(agent).from,
        `${agent}: not drained before it restarted`,
      );
      assert.ok(
        uncordoned && uncordoned.ts > gatePassed(events, agent),
        `${agent}: not uncordoned after its gate`,
      );
    }
    assert.match(run.output, /k3s-agent-a: cluster healthy: .*batch-mates/);

    for (const node of NODES) {
      const version = sh(
        SERVER.address,
        SERVER.name,
        `k3s kubectl get node ${node} -o jsonpath='{.status.nodeInfo.kubeletVersion}'`,
      );
      assert.strictEqual(version, "v1.33.6+k3s1", node);
    }
  });
});
