import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import { readdirSync, readFileSync } from "fs";
import { join } from "path";
import { LabEvent } from "../../lab/events";
import {
  engineBin,
  eventMark,
  eventsSince,
  labDown,
  labUp,
  REPO,
  requireLabMachine,
  Workspace,
} from "./harness";
import { downIntervals, Interval } from "./rollChecks";
import { POST_FIXTURE, POST_GUESTS, sh } from "./postCluster";

/**
 * An interrupted run (issue 14, part 1): `pulumi up` killed with SIGKILL while the second
 * server's `qm reboot` is in flight, then the README's recovery ("When something goes wrong"):
 * `pulumi cancel`, then `up` again. Run as root, under the lab lock:
 * flock /tmp/k3s-homelab-lab.lock npx mocha --no-config --require ts-node/register/transpile-only --timeout 1800000 --exit test/e2e/interrupted.test.ts
 */

const [PVE, PIGLET, FAWN] = POST_GUESTS;
const GUESTS = POST_GUESTS.map((g) => g.name);
const WORKSPACE = "e2e-interrupted";

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
}

/** Every process now, from /proc/<pid>/stat (comm is in parentheses and may hold spaces). */
function processes(): Proc[] {
  const procs: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      procs.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        comm: stat.slice(stat.indexOf("(") + 1, close),
      });
    } catch {
      // gone meanwhile
    }
  }
  return procs;
}

/** The processes below pid (children, theirs, ...). */
function descendants(pid: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  let frontier = [pid];
  while (frontier.length > 0) {
    const next = all.filter((p) => frontier.includes(p.ppid));
    found.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return found;
}

async function waitFor<T>(what: string, get: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = get();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not seen in ${timeoutMs / 1000} s`);
}

/** Pairs of servers down at the same time. */
function overlaps(intervals: readonly Interval[]): string[] {
  const found: string[] = [];
  intervals.forEach((a, i) =>
    intervals.slice(i + 1).forEach((b) => {
      if (a.host !== b.host && b.from < a.to && a.from < b.to) found.push(`${a.host}+${b.host}`);
    }),
  );
  return found;
}

const poweroffOf = (host: string) => (e: LabEvent) =>
  e.host === host && e.tool === "lab" && e.action === "poweroff";

describe("e2e: an interrupted run and its recovery", function () {
  this.timeout(30 * 60 * 1000);
  let ws: Workspace;
  const orphans: Proc[] = [];

  before(async function () {
    requireLabMachine(this);
    labUp(POST_FIXTURE);
    ws = new Workspace(WORKSPACE);
    // Creates the stack and its secrets; the killed run reopens it.
    const preview = await ws.preview(false);
    assert.strictEqual(preview.status, 0, preview.output.slice(-3000));
  });

  after(() => {
    for (const p of orphans) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    labDown();
  });

  it("pulumi up killed (SIGKILL) during the second server's qm reboot: locked until pulumi cancel, then up finishes the roll, never two servers down, every node gated", async () => {
    const mark = eventMark();
    const started = Date.now();
    const child = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        join(REPO, "test", "e2e", "upInChild.ts"),
        WORKSPACE,
      ],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
    );
    let childOutput = "";
    child.stdout.on("data", (d: Buffer) => (childOutput += d.toString()));
    child.stderr.on("data", (d: Buffer) => (childOutput += d.toString()));
    const childExit = new Promise<number | null>((resolve) => child.once("exit", resolve));

    await waitFor(
      `${PIGLET.name}'s poweroff (its qm reboot)`,
      () => eventsSince(mark).find(poweroffOf(PIGLET.name)),
      10 * 60 * 1000,
    );
    const below = descendants(child.pid!);
    const cli = below.find((p) => p.comm === "pulumi");
    assert.ok(cli, `no pulumi CLI under the child: ${JSON.stringify(below)}`);
    const providers = below.filter(
      (p) => p.comm.startsWith("pulumi-resourc") || p.ppid === cli.pid,
    );
    process.kill(cli.pid, "SIGKILL");
    const killedAt = Date.now();
    const code = await childExit;
    assert.notStrictEqual(code, 0, childOutput.slice(-3000));
    const alive = new Set(processes().map((p) => p.pid));
    orphans.push(...providers.filter((p) => alive.has(p.pid)));
    console.log(
      `      killed pulumi (pid ${cli.pid}) ${Math.round((killedAt - started) / 1000)} s into up; left running: ${orphans.map((p) => `${p.comm} (${p.pid})`).join(", ") || "nothing"}`,
    );

    // The killed run left the stack locked: up refuses, naming the way out.
    const locked = await ws.up();
    assert.strictEqual(locked.status, 1, locked.output.slice(-3000));
    assert.match(locked.output, /pulumi cancel/, locked.output.slice(-3000));

    // The README's recovery: pulumi cancel, then up.
    const cancel = spawnSync(join(engineBin(), "pulumi"), ["cancel", "--yes", "--stack", "lab"], {
      cwd: ws.dir,
      env: ws.env,
      encoding: "utf8",
    });
    assert.strictEqual(cancel.status, 0, `${cancel.stdout}${cancel.stderr}`);
    const recovered = await ws.up();
    console.log(
      `      after pulumi cancel, up exited ${recovered.status} ${Math.round((Date.now() - killedAt) / 1000)} s after the kill`,
    );
    assert.strictEqual(recovered.status, 0, recovered.output.slice(-4000));
    // The killed run's qm reboot was still restarting piglet: up waited for it, then the preflight.
    assert.match(
      recovered.output,
      /waiting \(\d+ s of 120 s, gateTimeoutSeconds\) before the preflight: restarting \(a qm reboot in flight, or its guest still booting\): k3s-vm-piglet \(VM 106 on piglet, /,
    );

    const down = downIntervals(eventsSince(mark), GUESTS);
    console.log(
      `      down: ${down.map((i) => `${i.host} ${new Date(i.from).toISOString().slice(11, 19)}..${new Date(i.to).toISOString().slice(11, 19)}`).join(", ")}`,
    );
    assert.deepStrictEqual(overlaps(down), [], "two servers were down at once");
    // The interrupted server and the one after it restarted in the recovery run, each gated.
    for (const g of [PIGLET, FAWN])
      assert.match(
        recovered.output,
        new RegExp(`${g.name}: Ready at v1\\.33\\.6\\+k3s1 after \\d+s \\(etcd member healthy\\)`),
        `${g.name} was not gated`,
      );
    for (const g of POST_GUESTS) {
      const version = sh(
        PVE.address,
        PVE.name,
        `k3s kubectl get node ${g.name} -o jsonpath='{.status.nodeInfo.kubeletVersion}'`,
      );
      assert.strictEqual(version, "v1.33.6+k3s1", g.name);
    }
    const again = await ws.up();
    assert.strictEqual(again.status, 0, again.output.slice(-3000));
  });
});
