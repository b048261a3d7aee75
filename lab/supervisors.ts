// Starting, asking and stopping the per-host supervisors (lab/runtime/supervisor.py).
import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { LabHost } from "./model";
import { LAB, LAB_SRC, LOGS, ctlSocket, netnsName } from "./paths";
import { SYSTEM_PATH, waitFor } from "./sh";

export interface Reply {
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

/** Start a host's supervisor in its own network, mount and UTS namespaces; returns its pid. */
export function startSupervisor(host: LabHost): number {
  // fd 3: the root network namespace (for the root-side forwarders);
  // fd 4: the machine's real root directory (for the isolation checks).
  const rootNet = fs.openSync("/proc/self/ns/net", "r");
  const realRoot = fs.openSync("/", "r");
  const log = fs.openSync(path.join(LOGS, `${host.name}-supervisor.log`), "a");
  const child = spawn(
    "nsenter",
    [
      `--net=/run/netns/${netnsName(host.name)}`,
      "unshare",
      "--mount",
      "--uts",
      "--propagation",
      "private",
      "/usr/bin/python3",
      "-u",
      "-B", // no __pycache__ in the repository
      path.join(LAB_SRC, "runtime", "supervisor.py"),
      "--lab-dir",
      LAB,
      "--host",
      host.name,
    ],
    {
      detached: true,
      stdio: ["ignore", log, log, rootNet, realRoot],
      env: { PATH: SYSTEM_PATH, LANG: "C.UTF-8" },
    },
  );
  child.unref();
  for (const fd of [rootNet, realRoot, log]) fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start the supervisor of ${host.name}`);
  return child.pid;
}

/** One JSON request to a supervisor's control socket. */
export function ask(host: string, request: object, timeoutMs = 30_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(ctlSocket(host));
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${host}: no answer to ${JSON.stringify(request)} in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("connect", () => sock.write(JSON.stringify(request) + "\n"));
    sock.on("data", (d) => (buf += d.toString()));
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${host}: ${e.message}`));
    });
    sock.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as Reply);
      } catch {
        reject(new Error(`${host}: bad reply ${JSON.stringify(buf)}`));
      }
    });
  });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function logTail(host: string): string {
  const file = path.join(LOGS, `${host}-supervisor.log`);
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  return text.split("\n").slice(-15).join("\n");
}

export async function waitReady(host: string, pid: number): Promise<void> {
  await waitFor(
    `the supervisor of ${host}`,
    async () => {
      if (!alive(pid)) {
        throw new Error(`the supervisor of ${host} exited:\n${logTail(host)}`);
      }
      if (!fs.existsSync(ctlSocket(host))) return false;
      return (await ask(host, { op: "ping" }).catch(() => ({ ok: false }))).ok;
    },
    30_000,
  );
}

/** Inode of a namespace link (/proc/<pid>/ns/<kind> or a bind-mounted netns file). */
export function nsInode(file: string): number | undefined {
  try {
    return fs.statSync(file).ino;
  } catch {
    return undefined;
  }
}

/** Pids whose mount or network namespace is one of `inodes`. */
export function processesIn(inodes: Set<number>): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    for (const kind of ["mnt", "net", "uts"]) {
      const ino = nsInode(`/proc/${entry}/ns/${kind}`);
      if (ino !== undefined && inodes.has(ino)) {
        pids.push(Number(entry));
        break;
      }
    }
  }
  return pids;
}
