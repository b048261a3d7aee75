// A `pulumi up` in a process of its own (upInChild.ts), and the processes under it, for the tests
// that interrupt it as an owner would: kill -9, Ctrl-C.
import { spawn } from "child_process";
import { readdirSync, readFileSync } from "fs";
import { join } from "path";
import { REPO } from "../../lab/run";
import { Interval } from "./rollChecks";

export interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
}

/** Every process now, from /proc/<pid>/stat (comm is in parentheses and may hold spaces). */
export function processes(): Proc[] {
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
export function descendants(pid: number): Proc[] {
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

export async function waitFor<T>(
  what: string,
  get: () => T | undefined,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = get();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not seen in ${timeoutMs / 1000} s`);
}

/** Pairs of hosts down at the same time. */
export function overlaps(intervals: readonly Interval[]): string[] {
  const found: string[] = [];
  intervals.forEach((a, i) =>
    intervals.slice(i + 1).forEach((b) => {
      if (a.host !== b.host && b.from < a.to && a.from < b.to) found.push(`${a.host}+${b.host}`);
    }),
  );
  return found;
}

export interface ChildUp {
  readonly exit: Promise<number | null>;
  output(): string;
  /** The Pulumi CLI the child's Automation API started, and the processes under it. */
  cli(): { cli: Proc; providers: Proc[] };
}

/** `up` of a Workspace an earlier run created, in a child process. */
export function upInChild(workspace: string): ChildUp {
  const child = spawn(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", join(REPO, "test", "e2e", "upInChild.ts"), workspace],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  return {
    exit: new Promise((resolve) => child.once("exit", resolve)),
    output: () => output,
    cli: () => {
      const below = descendants(child.pid!);
      const cli = below.find((p) => p.comm === "pulumi");
      if (!cli) throw new Error(`no pulumi CLI under the child: ${JSON.stringify(below)}`);
      return { cli, providers: below.filter((p) => p.ppid === cli.pid) };
    },
  };
}
