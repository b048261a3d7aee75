import * as assert from "assert";
import { join } from "path";
import { parse } from "yaml";
import { readFileSync } from "fs";
import { stackFileForFixture } from "../../lab/stackFile";
import {
  eventMark,
  eventsSince,
  labDown,
  labUp,
  REPO,
  requireLabMachine,
  Workspace,
} from "../e2e/harness";

const THIRTY = join(REPO, "lab", "fixtures", "thirty.yaml");
const doc = parse(readFileSync(THIRTY, "utf8")) as {
  k3s: { token: string };
  guests: { name: string }[];
};

/** Not timed here: `npm run bench:preview -- --thirty` measures it. */
describe("e2e: 30 nodes (3 Proxmox hosts, 5 servers, 25 agents), converged", function () {
  this.timeout(30 * 60 * 1000);
  let ws: Workspace;

  before(function () {
    requireLabMachine(this);
    labUp(THIRTY);
    ws = new Workspace(
      "e2e-thirty",
      "e2e-thirty",
      // The first up runs every node's steps once (no restart); 25 agents in batches of 5.
      stackFileForFixture("e2e-thirty", THIRTY, { roll: { agentBatch: 5 } }),
      doc.k3s.token,
    );
  });

  after(() => {
    labDown();
  });

  it("the first up restarts no VM; then a preview plans nothing on any of the 30 nodes and makes no mutating call", async () => {
    const before = eventMark();
    let began = Date.now();
    const first = await ws.up();
    assert.strictEqual(first.status, 0, first.output.slice(-5000));
    console.log(`      the first up took ${Math.round((Date.now() - began) / 1000)} s`);
    const reboots = eventsSince(before).filter((e) => e.tool === "qm" && e.action === "reboot");
    assert.deepStrictEqual(reboots, [], "the fixture's VMs already run writeback and iothread");
    const mark = eventMark();
    began = Date.now();
    const preview = await ws.preview(false);
    assert.strictEqual(preview.status, 0, preview.output.slice(-5000));
    console.log(`      the no-op preview took ${((Date.now() - began) / 1000).toFixed(1)} s`);
    assert.doesNotMatch(preview.output, /[+~-] +command:remote:Command/);
    assert.match(preview.output, /Resources:\n\s+\d+ unchanged/);
    for (const g of doc.guests)
      assert.match(preview.output, new RegExp(`^ +\\d+\\. ${g.name}: nothing to restart$`, "m"));
    assert.deepStrictEqual(
      eventsSince(mark).filter((e) => e.mutating),
      [],
    );
  });
});
