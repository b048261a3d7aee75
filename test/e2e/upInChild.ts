// `up` on a lab Workspace an earlier run created, in a process of its own, so that a test can kill
// the engine under it as an owner's `kill -9` of `pulumi up` would. Its output goes to stdout.
//   node -r ts-node/register/transpile-only test/e2e/upInChild.ts <workspace name>
import { Workspace } from "../../lab/stack";

const name = process.argv[2];
if (!name) throw new Error("usage: upInChild.ts <workspace name>");
const ws = new Workspace(name, "lab", undefined, undefined, false);
ws.echo = true;
void ws.up().then((run) => {
  if (run.status !== 0) process.stdout.write(`\n${run.stderr}\n`);
  process.exit(run.status);
});
