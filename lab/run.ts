import { SpawnSyncReturns } from "child_process";
import { join, resolve } from "path";

/** The repo root, and the lab's test-only credentials (see lab/keys/README.md, lab/fixtures). */
export const REPO = resolve(__dirname, "..");
export const LAB_TOKEN = "lab-post-token-not-secret";
export const LAB_CLIENT_KEY = join(REPO, "lab", "keys", "client");

export interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr together, for assertions on what the owner sees. */
  readonly output: string;
}

export function toRun(result: SpawnSyncReturns<string>): Run {
  if (result.error) throw result.error;
  return {
    status: result.status ?? 1,
    stdout: result.stdout,
    stderr: result.stderr,
    output: `${result.stdout}\n${result.stderr}`,
  };
}
