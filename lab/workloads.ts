// The fixture's workloads: real Kubernetes objects applied with a server's `k3s kubectl` (the
// real kubectl, admin kubeconfig) once every guest's k3s is active, then waited for until every
// pod the controllers made is Ready (kwok runs them on their nodes).
import * as fs from "fs";
import * as path from "path";
import { LAB_SRC } from "./paths";
import { inGuest, sleep } from "./sh";

/** `k3s kubectl ARGS` inside a guest (by its supervisor's pid), unlogged, stdin from `input`. */
export function guestKubectl(pid: number, args: string[], input?: string): string {
  return inGuest(pid, [], ["k3s", "kubectl", ...args], input);
}

function podsNotReady(pid: number): string[] {
  const out = guestKubectl(pid, [
    "get",
    "pods",
    "-A",
    "-o",
    'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
  ]);
  const rows = out.split("\n").filter(Boolean);
  return rows.length ? rows.filter((r) => !r.endsWith("=True")) : ["(no pods yet)"];
}

export async function applyWorkloads(pid: number, files: string[], timeoutMs = 120_000) {
  if (!files.length) return;
  const manifests = files
    .map((f) => fs.readFileSync(path.join(LAB_SRC, "fixtures", "workloads", f), "utf8"))
    .join("\n---\n");
  guestKubectl(pid, ["apply", "-f", "-"], manifests);
  const deadline = Date.now() + timeoutMs;
  let waiting = podsNotReady(pid);
  while (waiting.length) {
    if (Date.now() > deadline) {
      throw new Error(`workload pods not Ready in ${timeoutMs / 1000} s: ${waiting.join(", ")}`);
    }
    await sleep(500);
    waiting = podsNotReady(pid);
  }
}
