// `npm run discover` against the post's lab cluster, as an owner runs it: a process of its own,
// the lab client key, every host and node by the loopback address the lab forwards to it.
import { spawn, spawnSync } from "child_process";
import { mkdirSync, rmSync } from "fs";
import { join } from "path";
import { LAB_CLIENT_KEY, REPO } from "../../lab/run";
import { POST_GUESTS } from "./postCluster";

export interface DiscoverRun {
  readonly status: number | null;
  readonly output: string;
  /** Where it wrote (or would have written) Pulumi.<stack>.yaml. */
  readonly file: string;
}

/** `npm run validate -- FILE`. */
export function validateStackFile(file: string): { status: number | null; output: string } {
  const run = spawnSync(
    process.execPath,
    [require.resolve("ts-node/dist/bin"), "--transpile-only", "scripts/validate.ts", file],
    { cwd: REPO, encoding: "utf8", timeout: 120_000 },
  );
  return { status: run.status, output: `${run.stdout ?? ""}${run.stderr ?? ""}` };
}

const TS_NODE = [require.resolve("ts-node/dist/bin"), "--transpile-only", "scripts/discover.ts"];

/** A lab's machines as discover is pointed at them: its Proxmox hosts, a server to ask, and the
 * loopback address the lab forwards to each node (the API reports the bridge addresses). */
export interface LabMachines {
  readonly hosts: readonly (readonly [string, string])[];
  readonly server: string;
  readonly nodes: readonly (readonly [string, string])[];
}

export const POST_LAB: LabMachines = {
  hosts: POST_GUESTS.map((g) => [g.host, g.hostAddress] as const),
  server: POST_GUESTS[0].address,
  nodes: POST_GUESTS.map((g) => [g.name, g.address] as const),
};

/** A fresh directory for the file, and every flag but --yes. */
function prepared(dirName: string, lab: LabMachines): { args: string[]; file: string } {
  const dir = join(REPO, ".state", dirName);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const args = [
    ...lab.hosts.flatMap(([name, address]) => ["--host", `${name}=${address}`]),
    ...["--server", lab.server],
    ...lab.nodes.flatMap(([name, address]) => ["--node", `${name}=${address}`]),
    ...["--ssh-key", LAB_CLIENT_KEY, "--dir", dir, "--stack", "lab"],
  ];
  return { args, file: join(dir, "Pulumi.lab.yaml") };
}

/** Runs scripts/discover.ts with --yes (the fingerprints printed, not asked about). */
export function discoverLab(dirName: string, lab: LabMachines = POST_LAB): DiscoverRun {
  const { args, file } = prepared(dirName, lab);
  const run = spawnSync(process.execPath, [...TS_NODE, ...args, "--yes"], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 300_000,
  });
  return { status: run.status, output: `${run.stdout ?? ""}${run.stderr ?? ""}`, file };
}

/** Runs scripts/discover.ts against the post's lab as an owner at a terminal: at its first question `meanwhile` runs,
 * then the owner types yes. */
export function discoverAsking(
  dirName: string,
  meanwhile: () => Promise<void>,
): Promise<DiscoverRun> {
  const { args, file } = prepared(dirName, POST_LAB);
  const child = spawn(process.execPath, [...TS_NODE, ...args], { cwd: REPO });
  let output = "";
  let asked = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (asked || !output.includes("Connect to these keys? [yes/no]")) return;
      asked = true;
      meanwhile().then(
        () => child.stdin.write("yes\n"),
        (error: Error) => {
          child.kill("SIGKILL");
          reject(error);
        },
      );
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, output, file });
    });
  });
}
