/**
 * `npm run bench:rollout` (root; not a timed test): how close the gated roll comes to the sum of
 * its unavoidable waits, measured in the lab with a realistic 30 s VM restart.
 *
 * 1. Converging N = 3 and N = 5 servers: the roll's wall time divided by the sum of the nodes'
 *    restart-plus-gate times (target ≤ 1.25), and the overhead in seconds.
 * 2. A sysctl-only change on all nodes divided by the same change on one node (target ≤ 2).
 * Both are ratios from one run, since the machine is shared and noisy.
 *
 * `npm run bench:rollout -- batch`: instead, lab/fixtures/thirty.yaml (5 servers, 25 agents) with
 * every disk unconverged, converged with `cluster.roll.agentBatch` 1 and then 5: each wall time
 * over the sum of each server's restart-plus-gate and each batch's slowest agent's (target ≤ 1.2
 * at 5), side by side.
 */
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { parse, stringify } from "yaml";
import { LabEvent } from "../lab/events";
import { REPO } from "../lab/run";
import { eventMark, eventsSince, labDown, labUp } from "../lab/session";
import { Workspace } from "../lab/stack";
import { stackFileForFixture } from "../lab/stackFile";

const RESTART_SECONDS = 30;

function fixture(name: string, base: string, guests?: number): string {
  const doc = parse(readFileSync(join(REPO, "lab", "fixtures", base), "utf8")) as Record<
    string,
    unknown
  > & { guests: unknown[] };
  doc.restartSeconds = RESTART_SECONDS;
  if (guests !== undefined) doc.guests = doc.guests.slice(0, guests);
  const dir = join(REPO, ".state", "fixtures");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

/** Per node: from its VM's poweroff to the last API read of the gate that let the roll go on. */
export function restartPlusGate(events: readonly LabEvent[], node: string): number {
  const off = events.find((e) => e.host === node && e.tool === "lab" && e.action === "poweroff");
  if (!off) throw new Error(`${node}: no VM restart in the event log`);
  const reads = events.filter(
    (e) =>
      e.tool === "k3s" &&
      e.action === "kubectl" &&
      Array.isArray(e.args) &&
      e.args.includes(node) &&
      e.ts > off.ts,
  );
  const last = reads.filter((e) => e.exitCode === 0).pop();
  if (!last) throw new Error(`${node}: no gate read after its restart`);
  return (Date.parse(last.ts) - Date.parse(off.ts)) / 1000;
}

async function timed<T>(what: string, run: () => Promise<T>): Promise<[T, number]> {
  const start = Date.now();
  const result = await run();
  const seconds = (Date.now() - start) / 1000;
  console.log(`bench: ${what}: ${seconds.toFixed(1)} s`);
  return [result, seconds];
}

async function rollout(n: number) {
  const file = n === 3 ? fixture("bench-3", "post.yaml") : fixture("bench-5", "five.yaml");
  labUp(file);
  try {
    const doc = parse(readFileSync(file, "utf8")) as {
      guests: { name: string }[];
      k3s: { token: string };
    };
    const nodes = doc.guests.map((g) => g.name);
    const stack = stackFileForFixture(`bench-${n}`, file, { gateTimeoutSeconds: 300 });
    const ws = new Workspace(`bench-${n}`, "bench", stack, doc.k3s.token);
    const mark = eventMark();
    const [run, wall] = await timed(`converge ${n} servers`, () => ws.up());
    if (run.status !== 0) throw new Error(`up failed:\n${run.output.slice(-3000)}`);
    const events = eventsSince(mark);
    const perNode = nodes.map((node) => restartPlusGate(events, node));
    const sum = perNode.reduce((a, b) => a + b, 0);
    return { n, wall, perNode, sum, ratio: wall / sum, overhead: wall - sum };
  } finally {
    labDown();
  }
}

/** The same sysctl change on every node (cluster.sysctl) and on one node (its own sysctl). */
async function sysctlOnly() {
  const file = fixture("bench-sysctl", "post.yaml");
  labUp(file);
  try {
    const ws = new Workspace("bench-sysctl", "bench", stackFileForFixture("bench-sysctl", file));
    if ((await ws.up()).status !== 0) throw new Error("converging before the sysctl change failed");
    const stack = await ws.stack();
    const change = async (what: string, key: string) => {
      await stack.setConfig(key, { value: "11" }, true);
      const [run, seconds] = await timed(`sysctl-only change on ${what}`, () => ws.up());
      if (run.status !== 0) throw new Error(`${what}: ${run.output.slice(-2000)}`);
      return seconds;
    };
    const allSeconds = await change("all nodes", 'k3s-homelab:cluster.sysctl["vm.swappiness"]');
    const oneSeconds = await change(
      "one node",
      'k3s-homelab:nodes.k3s-vm-pve.sysctl["vm.dirty_ratio"]',
    );
    return { allSeconds, oneSeconds, ratio: allSeconds / oneSeconds };
  } finally {
    labDown();
  }
}

interface FixtureGuest {
  name: string;
  role: "server" | "agent";
  vm: Record<string, string>;
}

/** The 30-node fixture (5 servers, 25 agents) with every VM's disk still at the defaults
 * (no cache=writeback, no iothread), so converging it restarts every VM once. */
function unconvergedThirty(): string {
  const file = fixture("bench-thirty", "thirty.yaml");
  const doc = parse(readFileSync(file, "utf8")) as { guests: FixtureGuest[] };
  for (const g of doc.guests)
    g.vm.scsi0 = g.vm.scsi0.replace(",cache=writeback", "").replace(",iothread=1", "");
  writeFileSync(file, stringify(doc));
  return file;
}

/** What a roll in batches cannot avoid: each server's restart-plus-gate one after another, then
 * per batch of `size` agents (in the stack file's order) its slowest agent's. */
export function batchedFloor(
  servers: readonly number[],
  agents: readonly number[],
  size: number,
): number {
  let sum = servers.reduce((a, b) => a + b, 0);
  for (let i = 0; i < agents.length; i += size) sum += Math.max(...agents.slice(i, i + size));
  return sum;
}

/** Converging the unconverged 30-node fixture with `agentBatch` agents at a time: the wall time
 * over what the batches cannot avoid. */
async function batchRollout(agentBatch: number) {
  const file = unconvergedThirty();
  labUp(file);
  try {
    const doc = parse(readFileSync(file, "utf8")) as {
      guests: FixtureGuest[];
      k3s: { token: string };
    };
    const name = `bench-thirty-batch-${agentBatch}`;
    const stack = stackFileForFixture(name, file, {
      gateTimeoutSeconds: 300,
      roll: { drain: true, agentBatch },
    });
    const ws = new Workspace(name, "bench", stack, doc.k3s.token);
    const mark = eventMark();
    const [run, wall] = await timed(`converge 30 nodes with agentBatch ${agentBatch}`, () =>
      ws.up(),
    );
    if (run.status !== 0) throw new Error(`up failed:\n${run.output.slice(-3000)}`);
    const events = eventsSince(mark);
    const of = (role: string) =>
      doc.guests.filter((g) => g.role === role).map((g) => restartPlusGate(events, g.name));
    const floor = batchedFloor(of("server"), of("agent"), agentBatch);
    return { agentBatch, wall, floor, ratio: wall / floor };
  } finally {
    labDown();
  }
}

async function batchMain(): Promise<number> {
  const runs = [await batchRollout(1), await batchRollout(5)];
  mkdirSync(join(REPO, ".state", "bench"), { recursive: true });
  writeFileSync(join(REPO, ".state", "bench", "rollout-batch.json"), JSON.stringify(runs, null, 2));
  console.log(
    `\nbench:rollout batch (lab restart ${RESTART_SECONDS} s, 5 servers, 25 agents, drained)`,
  );
  for (const r of runs)
    console.log(
      `  agentBatch ${r.agentBatch}: wall ${r.wall.toFixed(1)} s / floor ${r.floor.toFixed(1)} s = ${r.ratio.toFixed(2)}${r.agentBatch > 1 ? " (target ≤ 1.2)" : ""}`,
    );
  console.log(`  batch 5 against batch 1: ${(runs[1].wall / runs[0].wall).toFixed(2)} of the time`);
  return 0;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error("bench: run as root (the lab creates namespaces)");
    return 1;
  }
  if (process.argv.includes("batch")) return batchMain();
  const rollouts = [await rollout(3), await rollout(5)];
  const sysctl = await sysctlOnly();
  const report = { restartSeconds: RESTART_SECONDS, rollouts, sysctl };
  mkdirSync(join(REPO, ".state", "bench"), { recursive: true });
  writeFileSync(join(REPO, ".state", "bench", "rollout.json"), JSON.stringify(report, null, 2));
  console.log("\nbench:rollout (lab restart 30 s)");
  for (const r of rollouts) {
    console.log(
      `  ${r.n} servers: wall ${r.wall.toFixed(1)} s / restart+gate sum ${r.sum.toFixed(1)} s = ${r.ratio.toFixed(2)} (target ≤ 1.25), overhead ${r.overhead.toFixed(1)} s; per node ${r.perNode.map((s) => s.toFixed(1)).join(", ")} s`,
    );
  }
  console.log(
    `  sysctl-only change: all nodes ${sysctl.allSeconds.toFixed(1)} s / one node ${sysctl.oneSeconds.toFixed(1)} s = ${sysctl.ratio.toFixed(2)} (target ≤ 2)`,
  );
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(`bench: ${error.message}`);
      process.exit(1);
    },
  );
}
