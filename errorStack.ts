import * as pulumi from "@pulumi/pulumi";

/*
 * The Pulumi Node runtime shows every error a program throws through `util.inspect(err, { colors:
 * true })` (@pulumi/pulumi `cmd/run/error.ts` `defaultErrorMessage`). On Node 20.20 that call
 * never returns for a stack frame whose `node_modules` path segment is not followed by a whole
 * package name and a separator (`.../node_modules/@pulumi/resource.ts:1598:22`): Node's
 * `lib/internal/util/inspect.js` `markNodeModules` then finds no end of the name, starts its search
 * again from the line's start, and grows its output until the heap is spent (a four-frame stack:
 * 16 s, about 3.4 GiB, then a RangeError). The SDK's own source maps name such paths, so every
 * error thrown by the program, refusals included, paid that on each `pulumi preview`.
 */

/** True for a stack frame line on which Node 20.20's `markNodeModules` never ends. */
export function loopsNodeInspect(line: string): boolean {
  let from = 0;
  for (;;) {
    const at = line.indexOf("node_modules", from);
    if (at === -1) return false;
    const separator = line[at - 1];
    const after = line[at + "node_modules".length];
    if ((separator !== "/" && separator !== "\\") || (after !== "/" && after !== "\\")) {
      from = at + 1;
      continue;
    }
    const start = at + "node_modules/".length;
    let end = line.indexOf(separator, start);
    if (line[start] === "@" && end !== -1) end = line.indexOf(separator, end + 1);
    if (end === -1) return true;
    from = end;
  }
}

/** The stack with the frames Node 20.20's inspect cannot show left out, and a line saying so. */
export function inspectSafeStack(stack: string): string {
  const lines = stack.split("\n");
  const kept = lines.filter((line) => !loopsNodeInspect(line));
  const left = lines.length - kept.length;
  if (left === 0) return stack;
  return [
    ...kept,
    `    (${left} frame${left === 1 ? "" : "s"} in node_modules left out: Node's util.inspect cannot show ${left === 1 ? "it" : "them"})`,
  ].join("\n");
}

/** A refusal: its message is the whole story, so it carries no stack frames to inspect. */
export function refusalError(message: string): pulumi.RunError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new pulumi.RunError(message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Runs the program; an error it throws leaves with a stack the runtime can show. */
export async function withInspectSafeErrors<T>(program: () => Promise<T>): Promise<T> {
  try {
    return await program();
  } catch (error) {
    if (error instanceof Error && typeof error.stack === "string") {
      error.stack = inspectSafeStack(error.stack);
    }
    throw error;
  }
}
