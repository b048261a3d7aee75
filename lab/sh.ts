// Small wrappers around child_process for the lab CLI (root namespace only).
import { execFileSync } from "child_process";

export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Run a program, return its stdout; throw with its stderr on failure. */
export function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, {
      encoding: "utf8",
      input,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PATH: SYSTEM_PATH },
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    const detail = (err.stderr || err.stdout || err.message).trim();
    throw new Error(`${cmd} ${args.join(" ")}: ${detail}`);
  }
}

/** Run `argv` inside a test host (by its supervisor's pid: mount, UTS and network namespaces)
 * with a clean environment, unlogged (LAB_EVENTS=off), plus `env` (NAME=value entries). */
export function inGuest(pid: number, env: string[], argv: string[], input?: string): string {
  return run(
    "nsenter",
    [
      ...["-t", String(pid), "-m", "-u", "-n", "--", "/usr/bin/env", "-i"],
      ...[`PATH=${SYSTEM_PATH}`, "HOME=/root", "LAB_EVENTS=off", ...env],
      ...argv,
    ],
    input,
  );
}

/** Like run, but a failure is returned instead of thrown. */
export function tryRun(cmd: string, args: string[]): { ok: boolean; out: string } {
  try {
    return { ok: true, out: run(cmd, args) };
  } catch (e) {
    return { ok: false, out: (e as Error).message };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}`);
}
