// `lab up <fixture>`: namespaces and bridge, per-host dirs, supervisors, K3s installed with the
// lab installer, then every host booted (sshd, etcd members, k3s) and reachable.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { down } from "./down";
import { LAB_CLIENT_DIR, issueLabClient, issueServerCerts, makeEtcdCAs } from "./etcdTls";
import { logEvent } from "./events";
import { KUBE_CA_DIR, makeKubeCAs } from "./kubeTls";
import { applyWorkloads } from "./workloads";
import { loadFixture } from "./fixture";
import { prepareHost } from "./hostfiles";
import { GuestHost, LabHost, LabModel, buildModel, guestMacs } from "./model";
import { createNetwork, labNetnsList, netnsPreState } from "./network";
import { EVENTS, LAB, LAB_SRC, REPO, RUN_FILE, SHARED, hostDir, netnsName } from "./paths";
import { RunRecord, saveRun } from "./runrecord";
import { inGuest, run, tryRun, waitFor } from "./sh";
import { ask, nsInode, startSupervisor, waitReady } from "./supervisors";

const NEEDED = {
  sshd: "openssh-server",
  socat: "socat",
  openssl: "openssl",
  curl: "curl",
  sysctl: "procps",
  nsenter: "util-linux",
  pivot_root: "util-linux",
  ip: "iproute2",
};

function missingTools(): string[] {
  const missing = Object.entries(NEEDED)
    .filter(([bin]) => !tryRun("sh", ["-c", `command -v ${bin}`]).ok)
    .map(([bin, pkg]) => `${bin} (apt package ${pkg})`);
  if (!tryRun("/usr/bin/python3", ["-c", "import yaml"]).ok) missing.push("python3-yaml");
  return missing;
}

function preflight(model: LabModel): void {
  // The lab runs this machine's own sshd, sysctl, fio...: lab/install-deps.sh installs what is
  // missing (Debian packages, no service started) and says what; it is a no-op when all are there.
  console.error("lab: checking the Debian packages the lab needs (lab/install-deps.sh)");
  const deps = spawnSync("bash", [path.join(LAB_SRC, "install-deps.sh")], {
    stdio: ["ignore", 2, 2],
  });
  const missing = missingTools();
  if (deps.status !== 0 || missing.length) {
    throw new Error(
      `the lab needs: ${missing.join(", ") || "the packages lab/install-deps.sh could not install"} (sudo bash lab/install-deps.sh)`,
    );
  }
  if (fs.existsSync(RUN_FILE) || labNetnsList().length > 0) {
    throw new Error("the lab is already up (or was not torn down): run `lab down` first");
  }
  const listening = run("ss", ["-Hltn"]);
  for (const h of model.hosts) {
    for (const port of h.forwards) {
      const taken = listening
        .split("\n")
        .map((l) => l.split(/\s+/)[3])
        .filter(
          (a) => a === `${h.address}:${port}` || a === `0.0.0.0:${port}` || a === `*:${port}`,
        );
      if (taken.length) {
        throw new Error(`${h.name}: ${h.address}:${port} is not free (listener on ${taken[0]})`);
      }
    }
  }
}

const KUBE_TOOLS = [
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubectl",
  "kwok",
  "kwok-stages.yaml",
];

function writeShared(model: LabModel): void {
  for (const d of ["ctl", "state", "logs", "lib", "bin", "installer"]) {
    fs.mkdirSync(path.join(SHARED, d), { recursive: true });
  }
  fs.writeFileSync(path.join(SHARED, "fixture.json"), JSON.stringify(model, null, 1) + "\n");
  // units.py too: the systemctl stand-in reads unit files as the supervisor does.
  for (const lib of ["lablib.py", "labetcd.py", "labkube.py", "units.py"]) {
    fs.copyFileSync(path.join(LAB_SRC, "runtime", lib), path.join(SHARED, "lib", lib));
  }
  for (const tool of ["lab-event", "lab-refuse"]) {
    fs.copyFileSync(path.join(LAB_SRC, "standins", tool), path.join(SHARED, "bin", tool));
    fs.chmodSync(path.join(SHARED, "bin", tool), 0o755);
  }
  const url = `http://127.0.0.1:${model.installerPort}`;
  const installer = fs.readFileSync(path.join(LAB_SRC, "standins", "install.sh"), "utf8");
  fs.writeFileSync(
    path.join(SHARED, "installer", "install.sh"),
    installer.replaceAll("@@LAB_URL@@", url),
  );
  fs.copyFileSync(
    path.join(LAB_SRC, "standins", "k3s.py"),
    path.join(SHARED, "installer", "k3s.py"),
  );
  // etcd and etcdctl built by scripts/etcd.sh, for the k3s stand-in (never on a guest's PATH).
  const etcdBin = run("bash", [path.join(REPO, "scripts", "etcd.sh")])
    .trim()
    .split("\n")
    .at(-1)!;
  for (const tool of ["etcd", "etcdctl"]) {
    fs.copyFileSync(path.join(etcdBin, tool), path.join(SHARED, "bin", tool));
    fs.chmodSync(path.join(SHARED, "bin", tool), 0o755);
  }
  // The Kubernetes control plane, kubectl and kwok built by scripts/kube.sh (never on a guest's
  // PATH: `k3s kubectl` runs this kubectl). Hard links where the cache is on the same file system.
  const kubeBin = run("bash", [path.join(REPO, "scripts", "kube.sh")])
    .trim()
    .split("\n")
    .at(-1)!;
  fs.mkdirSync(path.join(SHARED, "bin", "kube"), { recursive: true });
  for (const tool of KUBE_TOOLS) {
    const to = path.join(SHARED, "bin", "kube", tool);
    try {
      fs.linkSync(path.join(kubeBin, tool), to);
    } catch {
      fs.copyFileSync(path.join(kubeBin, tool), to);
    }
  }
  makeKubeCAs(path.join(SHARED, KUBE_CA_DIR));
  fs.writeFileSync(EVENTS, "");
  fs.symlinkSync(path.relative(LAB, EVENTS), path.join(LAB, "events.jsonl"));
}

/** Install the fixture's K3s version with the lab installer (not logged, no start), with the
 * guest's install-time flags and environment, as its owner once did. */
function installK3s(g: GuestHost, pid: number, port: number): void {
  inGuest(
    pid,
    [
      ...Object.entries(g.installEnv).map(([k, v]) => `${k}=${v}`),
      `INSTALL_K3S_VERSION=${g.k3sVersion}`,
      "INSTALL_K3S_SKIP_START=true",
    ],
    [
      "sh",
      "-c",
      `curl -sfL http://127.0.0.1:${port}/install.sh | sh -s - "$@"`,
      "sh",
      g.role,
      ...g.installArgs,
    ],
  );
}

function tcpOpen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: address, port, timeout: 1000 });
    s.on("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
    s.on("timeout", () => {
      s.destroy();
      resolve(false);
    });
  });
}

function unitState(g: GuestHost): string | undefined {
  try {
    const st = JSON.parse(fs.readFileSync(path.join(SHARED, "state", `${g.name}.json`), "utf8"));
    return st.units?.[g.role === "server" ? "k3s" : "k3s-agent"]?.state;
  } catch {
    return undefined;
  }
}

async function bringUp(model: LabModel, record: RunRecord, fixtureFile: string): Promise<void> {
  const fixture = loadFixture(fixtureFile);
  createNetwork(model, guestMacs(fixture));
  for (const h of model.hosts) prepareHost(h, model, fixture);
  const caDir = path.join(LAB, "etcd-ca");
  makeEtcdCAs(caDir);
  for (const h of model.hosts) {
    if (h.kind !== "guest" || h.role !== "server") continue;
    issueServerCerts(path.join(hostDir(h.name), "rancher/k3s/server/tls/etcd"), caDir, h);
  }
  issueLabClient(path.join(SHARED, LAB_CLIENT_DIR), caDir);
  for (const h of model.hosts) {
    const pid = startSupervisor(h);
    record.hosts.push({ name: h.name, pid, address: h.address, inodes: [] });
    saveRun(record);
  }
  for (const rh of record.hosts) {
    await waitReady(rh.name, rh.pid);
    rh.inodes = ["mnt", "uts"]
      .map((k) => nsInode(`/proc/${rh.pid}/ns/${k}`))
      .concat(nsInode(`/run/netns/${netnsName(rh.name)}`))
      .filter((i): i is number => i !== undefined);
  }
  saveRun(record);
  const pidOf = (h: LabHost) => record.hosts.find((r) => r.name === h.name)!.pid;
  for (const h of model.hosts) {
    if (h.kind === "guest") installK3s(h, pidOf(h), model.installerPort);
  }
  const booted = await Promise.allSettled(
    model.hosts.map((h) => ask(h.name, { op: "boot" }, 60_000)),
  );
  const failed = booted
    .map((r, i) =>
      r.status === "rejected"
        ? String(r.reason)
        : r.value.ok
          ? ""
          : `${model.hosts[i].name}: ${r.value.error}`,
    )
    .filter(Boolean);
  if (failed.length) throw new Error(`boot failed:\n  ${failed.join("\n  ")}`);
  const guests = model.hosts.filter((h): h is GuestHost => h.kind === "guest");
  await waitFor(
    "k3s (and the etcd members) on every guest",
    () => guests.every((g) => unitState(g) === "active"),
    180_000,
    500,
  );
  for (const h of model.hosts) {
    for (const port of h.forwards) {
      await waitFor(`${h.name} on ${h.address}:${port}`, () => tcpOpen(h.address, port), 20_000);
    }
  }
  const firstServer = guests.find((g) => g.role === "server");
  if (firstServer) await applyWorkloads(pidOf(firstServer), model.workloads);
}

export async function up(fixtureFile: string): Promise<LabModel> {
  const model = buildModel(loadFixture(fixtureFile));
  preflight(model);
  fs.rmSync(LAB, { recursive: true, force: true });
  fs.mkdirSync(LAB, { recursive: true });
  const record: RunRecord = {
    fixture: path.resolve(fixtureFile),
    name: model.name,
    startedAt: new Date().toISOString(),
    netnsPre: netnsPreState(),
    hosts: [],
  };
  saveRun(record);
  writeShared(model);
  try {
    await bringUp(model, record, fixtureFile);
  } catch (e) {
    await down({ keepLogs: true, quiet: true });
    throw e;
  }
  logEvent("lab", "up", { fixture: record.fixture, hosts: model.hosts.map((h) => h.name) });
  return model;
}
