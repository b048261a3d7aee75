// Bringing the lab up and down from a test or script, and reading its event log.
import { spawnSync } from "child_process";
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import { LabEvent, readEvents } from "./events";
import { LAB_CLIENT_KEY, REPO, Run, toRun } from "./run";

/** The lab CLI (must run as root). */
export function lab(...args: string[]): Run {
  return toRun(
    spawnSync("npx", ["ts-node", "--transpile-only", join(REPO, "lab", "cli.ts"), ...args], {
      cwd: REPO,
      encoding: "utf8",
      timeout: 10 * 60 * 1000,
    }),
  );
}

/** Whether this process brought the lab up: it never tears down a lab someone else started. */
let ours = false;

export function labUp(fixture: string): void {
  const run = lab("up", fixture);
  if (run.status !== 0) throw new Error(`lab up ${fixture} failed:\n${run.output}`);
  ours = true;
}

/** Takes down the lab this process brought up (logs kept in .lab/shared/logs). */
export function labDown(): void {
  if (!ours) return;
  const run = lab("down", "--keep-logs");
  if (run.status !== 0) throw new Error(`lab down failed:\n${run.output}`);
  ours = false;
}

/** Lab events since a mark (the count of events seen before). */
export function eventsSince(mark: number): LabEvent[] {
  return readEvents().slice(mark);
}

export function eventMark(): number {
  return readEvents().length;
}

/** Runs a shell command on a test host over SSH, with the lab's client key and pinned host key. */
export function onHost(address: string, hostKeyLine: string, command: string): Run {
  const dir = join(REPO, ".state", "ssh");
  mkdirSync(dir, { recursive: true });
  const knownHosts = join(dir, `known_hosts_${address}`);
  writeFileSync(knownHosts, `${address} ${hostKeyLine}\n`);
  // git does not keep a key's 0600 mode, and ssh refuses a key others can read.
  const key = join(dir, "client");
  copyFileSync(LAB_CLIENT_KEY, key);
  chmodSync(key, 0o600);
  return toRun(
    spawnSync(
      "ssh",
      [
        "-i",
        key,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        `root@${address}`,
        command,
      ],
      { encoding: "utf8", timeout: 60_000, env: { ...process.env, SSH_AUTH_SOCK: "" } },
    ),
  );
}
