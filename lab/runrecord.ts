// .lab/run.json: what `lab up` created, so `lab down` can undo exactly that.
import * as fs from "fs";
import { NetnsPreState } from "./network";
import { RUN_FILE } from "./paths";

export interface RunRecord {
  fixture: string;
  name: string;
  startedAt: string;
  /** Whether /run/netns existed / was a mount point before `ip netns add`. */
  netnsPre: NetnsPreState;
  /** Supervisor pid, root-side address and namespace inodes (mnt, uts, net) per host. */
  hosts: { name: string; pid: number; address: string; inodes: number[] }[];
}

export function saveRun(r: RunRecord): void {
  fs.writeFileSync(RUN_FILE, JSON.stringify(r, null, 1) + "\n");
}

export function loadRun(): RunRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(RUN_FILE, "utf8")) as RunRecord;
  } catch {
    return undefined;
  }
}
