// `npm run discover` against a lab's cluster, as an owner runs it: a process of its own,
// the lab client key, every host and node by the loopback address the lab forwards to it.
import { spawn, spawnSync } from "child_process";
import { mkdirSync, rmSync } from "fs";
import { join } from "path";
import { LAB_CLIENT_KEY, REPO } from "../../lab/run";
import { loadFixture } from "../../lab/fixture";
import { POST_FIXTURE } from "./postCluster";

export interface ScriptRun {
  readonly status: number | null;
  readonly output: string;
}

export interface DiscoverRun extends ScriptRun {
  /** Where it wrote (or would have written) Pulumi.<stack>.yaml. */
  readonly file: string;
}

/** A script of scripts/ run as `npm run` runs it (ts-node, transpile only), from the repo. */
function runScript(script: string, args: readonly string[]): ScriptRun {
  const run = spawnSync(
    process.execPath,
    [require.resolve("ts-node/dist/bin"), "--transpile-only", `scripts/${script}`, ...args],
    { cwd: REPO, encoding: "utf8", timeout: 300_000 },
  );
  return { status: run.status, output: `${run.stdout ?? ""}${run.stderr ?? ""}` };
}

/** `npm run validate -- FILE`. */
export function validateStackFile(file: string): ScriptRun {
  return runScript("validate.ts", [file]);
}

/** The flags that point discover at a lab's machines, from its fixture: the Proxmox hosts, the
 * first server to ask, and the loopback address the lab forwards to each node (the API reports
 * the bridge addresses). */
function labMachines(fixtureFile: string): string[] {
  const fixture = loadFixture(fixtureFile);
  const server = fixture.guests.find((g) => g.role === "server")!;
  return [
    ...fixture.proxmoxHosts.flatMap((h) => ["--host", `${h.name}=${h.address}`]),
    ...["--server", server.address],
    ...fixture.guests.flatMap((g) => ["--node", `${g.name}=${g.address}`]),
  ];
}

/** A fresh directory for the file, and every flag but --yes. */
function prepared(dirName: string, fixtureFile: string): { args: string[]; file: string } {
  const dir = join(REPO, ".state", dirName);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const args = [
    ...labMachines(fixtureFile),
    ...["--ssh-key", LAB_CLIENT_KEY, "--dir", dir, "--stack", "lab"],
  ];
  return { args, file: join(dir, "Pulumi.lab.yaml") };
}

/** Runs scripts/discover.ts with --yes (the fingerprints printed, not asked about). */
export function discoverLab(dirName: string, fixtureFile = POST_FIXTURE): DiscoverRun {
  const { args, file } = prepared(dirName, fixtureFile);
  return { ...runScript("discover.ts", [...args, "--yes"]), file };
}

/** Runs scripts/discover.ts against the post's lab as an owner at a terminal: at its first question `meanwhile` runs,
 * then the owner types yes. */
export function discoverAsking(
  dirName: string,
  meanwhile: () => Promise<void>,
): Promise<DiscoverRun> {
  const { args, file } = prepared(dirName, POST_FIXTURE);
  const discover = [require.resolve("ts-node/dist/bin"), "--transpile-only", "scripts/discover.ts"];
  const child = spawn(process.execPath, [...discover, ...args], { cwd: REPO });
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
