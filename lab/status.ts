// `lab status`: one line per test host (supervisor, power, phase, sshd, k3s) and the etcd
// cluster as etcdctl (the lab's build) sees it through the guests' root-side 2379 forwarders,
// over TLS with the lab's client pair.
import * as fs from "fs";
import * as path from "path";
import { LAB_CLIENT_DIR } from "./etcdTls";
import { LabModel } from "./model";
import { SHARED } from "./paths";
import { loadRun } from "./runrecord";
import { tryRun } from "./sh";
import { alive, processesIn } from "./supervisors";

/** Resident memory of every process in a host's namespaces (sshd, etcd, the Kubernetes
 * components, kwok...), in MiB; shared pages count once per process, so this is an upper bound. */
function residentMiB(inodes: number[]): number {
  let kib = 0;
  for (const pid of processesIn(new Set(inodes))) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) kib += Number(m[1]);
    } catch {
      /* exited meanwhile */
    }
  }
  return Math.round(kib / 1024);
}

export function status(): string {
  const record = loadRun();
  if (!record) return "lab: down";
  const model = JSON.parse(fs.readFileSync(path.join(SHARED, "fixture.json"), "utf8")) as LabModel;
  const lines = [`lab: up (fixture ${record.fixture}, since ${record.startedAt})`];
  lines.push("HOST               ADDRESS       SUPERVISOR  POWER    PHASE          RSS MiB  K3S");
  let total = 0;
  for (const h of record.hosts) {
    let st: Record<string, unknown> = {};
    try {
      st = JSON.parse(fs.readFileSync(path.join(SHARED, "state", `${h.name}.json`), "utf8"));
    } catch {
      /* no state yet */
    }
    const units = (st.units ?? {}) as Record<string, { state?: string; version?: string }>;
    const k3s = Object.entries(units)
      .filter(([, u]) => u.state && u.state !== "inactive")
      .map(([n, u]) => `${n} ${u.state}${u.version ? ` ${u.version}` : ""}`)
      .join(", ");
    const rss = residentMiB(h.inodes);
    total += rss;
    lines.push(
      [
        h.name.padEnd(18),
        h.address.padEnd(13),
        (alive(h.pid) ? `pid ${h.pid}` : "DEAD").padEnd(11),
        String(st.power ?? "?").padEnd(8),
        String(st.phase ?? "?").padEnd(14),
        String(rss).padStart(7),
        k3s || "-",
      ].join(" "),
    );
  }
  lines.push(`resident memory of all test hosts: ${total} MiB`);
  const endpoints = model.hosts
    .filter((h) => h.kind === "guest" && h.role === "server")
    .map((h) => `https://${h.address}:2379`)
    .join(",");
  const tls = path.join(SHARED, LAB_CLIENT_DIR);
  const etcd = tryRun(path.join(SHARED, "bin", "etcdctl"), [
    "--endpoints",
    endpoints,
    `--cacert=${tls}/server-ca.crt`,
    `--cert=${tls}/client.crt`,
    `--key=${tls}/client.key`,
    "--command-timeout=3s",
    "endpoint",
    "status",
    "-w",
    "table",
  ]);
  lines.push("", "etcd (through the root-side forwarders):", etcd.out.trim());
  return lines.join("\n");
}
