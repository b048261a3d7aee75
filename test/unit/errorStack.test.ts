import * as assert from "assert";
import { spawnSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import {
  inspectSafeStack,
  loopsNodeInspect,
  refusalError,
  withInspectSafeErrors,
} from "../../errorStack";

/** The stack a RunError thrown from the program had under `pulumi preview` (ts-node's source maps
 * resolve the SDK's frames to these paths). */
const SEEN_STACK = [
  "Error: refused:",
  "  - a problem",
  "    at module.exports (/tmp/cli-runerror/index.ts:4:13)",
  "    at Object.runProgram [as init] (/work/main/node_modules/@pulumi/cmd/run/run.ts:577:70)",
  "    at async Stack.initialize (/work/main/node_modules/@pulumi/runtime/stack.ts:78:28)",
  "    at async Stack.initializeAndRegisterOutputs (/work/main/node_modules/@pulumi/resource.ts:1598:22)",
].join("\n");

/** `util.inspect(err, { colors: true })` as the Pulumi runtime calls it, in a child Node with a
 * small heap: its exit status and how long it took. */
function inspectInChild(stack: string): { status: number | null; ms: number } {
  const started = Date.now();
  const run = spawnSync(
    process.execPath,
    [
      "--max-old-space-size=64",
      "-e",
      'const e = new Error("refused"); e.stack = process.env.STACK; require("util").inspect(e, { colors: true });',
    ],
    { env: { ...process.env, STACK: stack }, timeout: 60_000, stdio: "ignore" },
  );
  return { status: run.status, ms: Date.now() - started };
}

describe("error stacks the Pulumi Node runtime can show", () => {
  it("names the frames on which Node 20's util.inspect never ends", () => {
    const frames = SEEN_STACK.split("\n");
    assert.deepStrictEqual(frames.map(loopsNodeInspect), [false, false, false, false, false, true]);
    assert.strictEqual(loopsNodeInspect("    at f (/a/node_modules/left-pad.js:1:1)"), true);
    assert.strictEqual(loopsNodeInspect("    at f (/a/node_modules/left-pad/index.js:1:1)"), false);
    assert.strictEqual(loopsNodeInspect("    at f (C:\\a\\node_modules\\@s\\p.js:1:1)"), true);
    assert.strictEqual(loopsNodeInspect("    at f (/a/my_node_modules/@s/p.js:1:1)"), false);
  });

  it("leaves those frames out and says so", () => {
    assert.strictEqual(
      inspectSafeStack(SEEN_STACK),
      [
        "Error: refused:",
        "  - a problem",
        "    at module.exports (/tmp/cli-runerror/index.ts:4:13)",
        "    at Object.runProgram [as init] (/work/main/node_modules/@pulumi/cmd/run/run.ts:577:70)",
        "    at async Stack.initialize (/work/main/node_modules/@pulumi/runtime/stack.ts:78:28)",
        "    (1 frame in node_modules left out: Node's util.inspect cannot show it)",
      ].join("\n"),
    );
    const clean = "Error: x\n    at f (/a/node_modules/left-pad/index.js:1:1)";
    assert.strictEqual(inspectSafeStack(clean), clean);
  });

  it("this Node's util.inspect runs out of memory on the stack as seen, and not on the safe one", function () {
    this.timeout(120_000);
    const raw = inspectInChild(SEEN_STACK);
    assert.notStrictEqual(raw.status, 0, `inspect of the raw stack ended (${raw.ms} ms)`);
    const safe = inspectInChild(inspectSafeStack(SEEN_STACK));
    assert.strictEqual(safe.status, 0);
    assert.ok(safe.ms < 5_000, `${safe.ms} ms`);
  });

  it("a refusal is a RunError with its message and no frames", () => {
    const error = refusalError("preflight refused the roll:\n  - node `a`: down");
    assert.ok(pulumi.RunError.isInstance(error));
    assert.strictEqual(error.stack, "Error: preflight refused the roll:\n  - node `a`: down");
    assert.ok(Error.stackTraceLimit > 0, "the limit was not put back");
  });

  it("an error the program throws leaves with the safe stack", async () => {
    const thrown = new Error("boom");
    thrown.stack = SEEN_STACK;
    await assert.rejects(
      withInspectSafeErrors(async () => {
        throw thrown;
      }),
      (error: Error) => error === thrown && error.stack === inspectSafeStack(SEEN_STACK),
    );
    assert.strictEqual(await withInspectSafeErrors(async () => 7), 7);
  });
});
