// `lab down`: stop every supervisor (each stops everything in its host), kill anything still
// in a lab namespace, delete the hl-* network namespaces, undo /run/netns, remove .lab/, and
// verify that nothing of the lab is left (namespaces, mounts, processes, listeners).
import * as fs from "fs";
import * as path from "path";
import { isMountPoint, labNetnsList, removeNetwork } from "./network";
import { LAB, SHARED } from "./paths";
import { loadRun } from "./runrecord";
import { run, sleep, waitFor } from "./sh";
import { alive, ask, nsInode, processesIn } from "./supervisors";

export interface DownOptions {
  /** Keep .lab/shared/logs and .lab/events.jsonl (in .lab/last-run/) for a post-mortem. */
  keepLogs?: boolean;
  quiet?: boolean;
}

function leftovers(inodes: Set<number>, addresses: Set<string>): string[] {
  const problems: string[] = [];
  const pids = processesIn(inodes);
  if (pids.length) problems.push(`processes still in lab namespaces: ${pids.join(", ")}`);
  const ns = labNetnsList();
  if (ns.length) problems.push(`network namespaces left: ${ns.join(", ")}`);
  const mounts = fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m) => m && (m.startsWith(LAB) || m.startsWith("/run/netns/hl-")));
  if (mounts.length) problems.push(`mounts left: ${mounts.join(", ")}`);
  const listeners = run("ss", ["-Hltn"])
    .split("\n")
    .map((l) => l.split(/\s+/)[3] ?? "")
    .filter((a) => addresses.has(a.replace(/:\d+$/, "")));
  if (listeners.length) problems.push(`listeners left: ${listeners.join(", ")}`);
  return problems;
}

function keepLogs(): void {
  const last = path.join(LAB, "last-run");
  fs.rmSync(last, { recursive: true, force: true });
  fs.mkdirSync(last, { recursive: true });
  if (fs.existsSync(path.join(SHARED, "logs"))) {
    fs.cpSync(path.join(SHARED, "logs"), path.join(last, "logs"), { recursive: true });
  }
  if (fs.existsSync(path.join(SHARED, "events.jsonl"))) {
    fs.copyFileSync(path.join(SHARED, "events.jsonl"), path.join(last, "events.jsonl"));
  }
  for (const entry of fs.readdirSync(LAB)) {
    if (entry !== "last-run") fs.rmSync(path.join(LAB, entry), { recursive: true, force: true });
  }
}

export async function down(opts: DownOptions = {}): Promise<void> {
  const say = (s: string) => opts.quiet || console.log(s);
  const record = loadRun();
  const hosts = record?.hosts ?? [];
  const inodes = new Set<number>(hosts.flatMap((h) => h.inodes));
  for (const ns of labNetnsList()) {
    const ino = nsInode(`/run/netns/${ns}`);
    if (ino !== undefined) inodes.add(ino);
  }

  await Promise.allSettled(
    hosts.filter((h) => alive(h.pid)).map((h) => ask(h.name, { op: "halt" }, 10_000)),
  );
  await waitFor("the supervisors to stop", () => hosts.every((h) => !alive(h.pid)), 15_000).catch(
    () => {
      for (const h of hosts) if (alive(h.pid)) process.kill(h.pid, "SIGKILL");
    },
  );
  for (let round = 0; round < 5; round++) {
    const pids = processesIn(inodes);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    await sleep(200);
  }
  const netProblems = removeNetwork(record?.netnsPre);

  const problems = [...netProblems, ...leftovers(inodes, new Set(hosts.map((h) => h.address)))];
  if (record?.netnsPre && !record.netnsPre.runNetnsMounted && isMountPoint("/run/netns")) {
    problems.push("/run/netns is still a mount point");
  }
  if (opts.keepLogs) keepLogs();
  else fs.rmSync(LAB, { recursive: true, force: true });
  if (problems.length)
    throw new Error(`lab down left things behind:\n  - ${problems.join("\n  - ")}`);
  say(
    `lab down: ${hosts.length} hosts stopped; no lab namespaces, mounts, processes or listeners left`,
  );
}
