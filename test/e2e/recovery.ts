// What the tests of interrupted and failed runs share: a fresh roll to interrupt, the README's
// recovery (`pulumi cancel`), and the checks that the recovered roll is whole.
import * as assert from "assert";
import { spawnSync } from "child_process";
import { join } from "path";
import { LabEvent } from "../../lab/events";
import { engineBin, eventsSince, labDown, labUp, Workspace } from "./harness";
import { overlaps } from "./childRun";
import { downIntervals } from "./rollChecks";
import { POST_FIXTURE, POST_GUESTS, sh } from "./postCluster";

const [PVE] = POST_GUESTS;
export const GUESTS = POST_GUESTS.map((g) => g.name);

export const poweroffOf = (host: string) => (e: LabEvent) =>
  e.host === host && e.tool === "lab" && e.action === "poweroff";

/** Mutating calls on these machines, as `host tool action`. */
export const mutatingOn = (events: readonly LabEvent[], hosts: readonly string[]) =>
  events
    .filter((e) => e.mutating && hosts.includes(e.host))
    .map((e) => `${e.host} ${e.tool} ${e.action}`);

/** A fresh post lab and a stack on it that owes every node its roll (the killed runs reopen it). */
export async function freshRoll(name: string): Promise<Workspace> {
  labDown();
  labUp(POST_FIXTURE);
  const ws = new Workspace(name);
  const preview = await ws.preview(false);
  assert.strictEqual(preview.status, 0, preview.output.slice(-3000));
  return ws;
}

export function pulumiCancel(ws: Workspace): void {
  const cancel = spawnSync(join(engineBin(), "pulumi"), ["cancel", "--yes", "--stack", "lab"], {
    cwd: ws.dir,
    env: ws.env,
    encoding: "utf8",
  });
  assert.strictEqual(cancel.status, 0, `${cancel.stdout}${cancel.stderr}`);
}

/** Every guest runs the stack's version, and no two were ever down at once since mark. */
export function assertConverged(mark: number): void {
  const down = downIntervals(eventsSince(mark), GUESTS);
  console.log(
    `      down: ${down.map((i) => `${i.host} ${new Date(i.from).toISOString().slice(11, 19)}..${new Date(i.to).toISOString().slice(11, 19)}`).join(", ")}`,
  );
  assert.deepStrictEqual(overlaps(down), [], "two servers were down at once");
  assertPostVersions();
}

/** Every guest of the post's cluster runs the lab stack's version, as the API reports it. */
export function assertPostVersions(): void {
  for (const g of POST_GUESTS) {
    const version = sh(
      PVE.address,
      PVE.name,
      `k3s kubectl get node ${g.name} -o jsonpath='{.status.nodeInfo.kubeletVersion}'`,
    );
    assert.strictEqual(version, "v1.33.6+k3s1", g.name);
  }
}

export const gated = (name: string) =>
  new RegExp(`${name}: Ready at v1\\.33\\.6\\+k3s1 after \\d+s \\(etcd member healthy\\)`);
