import { splitSections } from "./sections";
import { vmConfigViews } from "./vmConfigFile";

/** One Kubernetes node as a server's API reports it. */
export interface ApiNode {
  readonly name: string;
  readonly kubeletVersion: string;
  readonly ready: string;
  /** Set when the node is unschedulable: cordoned by this tool's drain (it carries the
   * annotation) or by someone else. */
  readonly cordoned?: "by-roll" | "by-hand";
}

export interface EtcdMember {
  readonly id: string;
  readonly name: string;
  readonly isLearner: boolean;
}

export interface UnitEnvEntry {
  readonly name: string;
  /** Absent for proxies, CONTAINERD_* and secrets: the probe never reads those values. */
  readonly value?: string;
}

/** The argv systemctl prints for an Exec* property (`{ path=... ; argv[]=A B C ; ... }`, joined
 * by spaces as systemctl-show.c does), without the binary itself. */
export function parseExecStart(text: string | undefined): string[] | undefined {
  const argv = /argv\[\]=(.*?) ; (?:ignore_errors|flags)=/.exec(text ?? "")?.[1];
  return argv === undefined
    ? undefined
    : argv
        .split(/\s+/)
        .filter((a) => a !== "")
        .slice(1);
}

/** `NAME` or `NAME=value` lines; a value install.sh wrote as `'...'` is unquoted. */
export function parseUnitEnv(text: string): UnitEnvEntry[] {
  return text
    .split("\n")
    .filter((l) => /^[A-Za-z_][A-Za-z0-9_]*(=|$)/.test(l))
    .map((l) => {
      const eq = l.indexOf("=");
      if (eq < 0) return { name: l };
      const raw = l.slice(eq + 1);
      const value = /^'.*'$/s.test(raw) ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
      return { name: l.slice(0, eq), value };
    });
}

/** What a guest runs, as read by the node probe. Fields a probe could not read are undefined. */
export interface NodeObservation {
  readonly installedVersion?: string;
  /** The running K3s unit and when it started, when one runs. */
  readonly service?: { readonly unit: string; readonly since: string };
  readonly configYaml: string;
  /** sha256 of config.yaml as the guest hashes it (of nothing when there is none). */
  readonly configSha?: string;
  /** The config.yaml K3s started with, when the roll rewrote it without a restart (the same
   * settings in the program's form), with its sha256. */
  readonly configAsStarted?: { readonly sha: string; readonly text: string };
  /** The K3s unit's ExecStart arguments after the binary (`server --node-ip=...`), when read. */
  readonly execStart?: readonly string[];
  /** The unit's env file: each variable's name, and its value for non-secret K3S_* ones. */
  readonly unitEnv?: readonly UnitEnvEntry[];
  /** /etc/rancher/k3s/config.yaml.d/*.yaml, in the order K3s reads them. */
  readonly configDropins?: readonly { readonly path: string; readonly text: string }[];
  readonly sysctl: Readonly<Record<string, string>>;
  readonly sysctlFile: string;
  /** Servers only: every node as this server's API reports it. */
  readonly apiNodes?: readonly ApiNode[];
  /** Servers only: this server's own etcd member answers /health with true. */
  readonly etcdHealthy?: boolean;
  /** Servers only, when not healthy: etcd's reason ("RAFT NO LEADER") or that /health is silent. */
  readonly etcdUnhealthyReason?: string;
  readonly etcdMembers?: readonly EtcdMember[];
  /** The leader's member id, "0" when there is none. */
  readonly etcdLeader?: string;
  /** This server's own member id. */
  readonly etcdMemberId?: string;
}

export interface VmObservation {
  readonly vmid: number;
  /** As `qm config --current` prints it: what the running VM has. */
  readonly current: Readonly<Record<string, string>>;
  /** As `qm config` prints it: with pending changes shown as if applied. */
  readonly pending: Readonly<Record<string, string>>;
  /** `qm status --verbose`'s qmpstatus: running, stopped, paused, io-error, prelaunch, ... */
  readonly status: string;
  /** What `qm pending` would list as changing: `memory`, `delete:net1`, ... */
  readonly pendingKeys?: readonly string[];
  /** An earlier `qm reboot` by the disk step timed out (ISO time); set only while the same QEMU
   * still runs or the VM has stopped since. */
  readonly rebootTimedOutAt?: string;
  /** A `qm reboot` is still in flight: its reboot request is there, or qmeventd's `qm cleanup`
   * runs (it clears the request, then starts the VM again). */
  readonly restarting?: boolean;
  /** Seconds since the VM's QEMU started (`ps -o etimes` of its pid file's process). */
  readonly qemuAgeSeconds?: number;
}

/** One storage of `/etc/pve/storage.cfg`: its type and options (`krbd`, `nocow`, ...). */
export interface StorageEntry {
  readonly type: string;
  readonly options: Readonly<Record<string, string>>;
}

export interface HostObservation {
  readonly vms: ReadonlyMap<number, VmObservation>;
  /** Storage id → entry, from `/etc/pve/storage.cfg`. */
  readonly storage?: ReadonlyMap<string, StorageEntry>;
  /** Live zfs_txg_timeout, undefined without the zfs module. */
  readonly txgLive?: number;
  /** The value our modprobe file sets for the next boot, if the file exists. */
  readonly txgBoot?: number;
}

const UNAVAILABLE = "!unavailable";

/** The `config-as-started` section: its sha256 line, then the file. */
function asStarted(text: string | undefined): NodeObservation["configAsStarted"] {
  const sha = /^([0-9a-f]{64})\n?/.exec(text ?? "");
  return sha ? { sha: sha[1], text: (text ?? "").slice(sha[0].length) } : undefined;
}

function unavailable(text: string | undefined): boolean {
  return text === undefined || text === "" || text.startsWith(UNAVAILABLE);
}

/** `key: value` lines of `qm config` output. */
export function parseQmConfig(text: string): Record<string, string> {
  const config: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([a-z][a-z0-9_-]*): (.*)$/.exec(line);
    if (match) config[match[1]] = match[2];
  }
  return config;
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (unavailable(text)) return undefined;
  try {
    return JSON.parse(text!) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** A server's own /health answer (etcd's etcdhttp `checkHealth`: 200 with `"health":"true"`, or
 * 503 with `"health":"false"` and a reason), or why there is none. */
function etcdHealthOf(
  text: string | undefined,
): Pick<NodeObservation, "etcdHealthy" | "etcdUnhealthyReason"> {
  if (text === undefined) return {};
  const body = parseJson(text);
  if (body?.health === "true") return { etcdHealthy: true };
  const reason =
    typeof body?.reason === "string" && body.reason !== ""
      ? `etcd says ${body.reason}`
      : unavailable(text)
        ? "no answer from its /health on 127.0.0.1:2381; is K3s running?"
        : `its /health answered ${JSON.stringify(text.trim().slice(0, 120))}`;
  return { etcdHealthy: false, etcdUnhealthyReason: reason };
}

export function parseNodeProbe(stdout: string): NodeObservation {
  const s = splitSections(stdout);
  const version = /^k3s version (\S+)/.exec(s.get("k3s-version") ?? "")?.[1];
  const serviceLine = (s.get("service") ?? "").split("\n").find((l) => l.trim() !== "");
  const service = serviceLine
    ? { unit: serviceLine.split(" ")[0], since: serviceLine.split(" ").slice(2).join(" ") }
    : undefined;
  const sysctl: Record<string, string> = {};
  for (const line of (s.get("sysctl") ?? "").split("\n")) {
    const [key, value] = line.split("\t");
    if (key) sysctl[key] = value ?? "";
  }
  const members = parseJson(s.get("etcd-members"));
  const status = parseJson(s.get("etcd-status"));
  const nodesText = s.get("nodes");
  return {
    installedVersion: version,
    service,
    configYaml: s.get("config") ?? "",
    configSha: /^[0-9a-f]{64}$/.test((s.get("config-sha") ?? "").trim())
      ? (s.get("config-sha") ?? "").trim()
      : undefined,
    configAsStarted: asStarted(s.get("config-as-started")),
    execStart: parseExecStart(s.get("unit-exec")),
    unitEnv: parseUnitEnv(s.get("unit-env") ?? ""),
    configDropins: [...s.entries()]
      .filter(([name]) => name.startsWith("config-dropin "))
      .map(([name, text]) => ({ path: name.slice("config-dropin ".length), text })),
    sysctl,
    sysctlFile: s.get("sysctl-file") ?? "",
    apiNodes:
      nodesText === undefined || unavailable(nodesText)
        ? undefined
        : nodesText
            .split("\n")
            .filter((l) => l.trim() !== "")
            .map((l) => {
              const [name, kubeletVersion, ready, unschedulable, ours] = l.split(" ");
              const node: ApiNode = { name, kubeletVersion, ready: ready ? ready : "Unknown" };
              if (unschedulable !== "true") return node;
              return { ...node, cordoned: ours ? "by-roll" : "by-hand" };
            }),
    ...etcdHealthOf(s.get("etcd-health")),
    etcdMembers: members
      ? ((members.members as Record<string, unknown>[] | undefined) ?? []).map((m) => ({
          id: String(m.ID),
          name: String(m.name ?? ""),
          isLearner: m.isLearner === true,
        }))
      : undefined,
    etcdLeader: status ? String(status.leader ?? "0") : undefined,
    etcdMemberId: status
      ? String((status.header as Record<string, unknown> | undefined)?.member_id ?? "")
      : undefined,
  };
}

/** `/etc/pve/storage.cfg`: `TYPE: ID` lines, each followed by indented `KEY VALUE` lines. */
export function parseStorageCfg(text: string): Map<string, StorageEntry> {
  const storage = new Map<string, StorageEntry>();
  let options: Record<string, string> | undefined;
  for (const line of text.split("\n")) {
    const head = /^([a-z]+):\s*(\S+)\s*$/.exec(line);
    if (head) {
      options = {};
      storage.set(head[2], { type: head[1], options });
    } else if (options && /^\s+\S/.test(line)) {
      const [key, ...value] = line.trim().split(/\s+/);
      options[key] = value.join(" ");
    }
  }
  return storage;
}

/** A reboot request means qmeventd's `qm cleanup` starts the VM again. A `qm cleanup` running
 * without one has either cleared it and is starting the VM, or found none: after our `qm reboot`
 * timed out it found none (vm_reboot clears the request on error), and the VM stays off. */
function restartInFlight(restart: string, rebootTimedOut: boolean): boolean {
  if (/reboot-request/.test(restart)) return true;
  return /cleanup/.test(restart) && !rebootTimedOut;
}

function parseVm(s: Map<string, string>, vmid: number): VmObservation {
  const statusText = s.get(`vm ${vmid} status`) ?? "";
  const status =
    /^qmpstatus: (\S+)/m.exec(statusText)?.[1] ??
    /^status: (\S+)/m.exec(statusText)?.[1] ??
    "unknown";
  const [at, pid] = (s.get(`vm ${vmid} reboot-timeout`) ?? "").trim().split(/\s+/);
  const qemuPid = (s.get(`vm ${vmid} pid`) ?? "").trim();
  const age = (s.get(`vm ${vmid} qemu-age`) ?? "").trim();
  const timedOut = /^\d+$/.test(at ?? "") && (pid === qemuPid || status === "stopped");
  return {
    vmid,
    ...vmConfigViews(s.get(`vm ${vmid} conf`) ?? ""),
    status,
    ...(timedOut ? { rebootTimedOutAt: new Date(Number(at) * 1000).toISOString() } : {}),
    ...(restartInFlight(s.get(`vm ${vmid} restart`) ?? "", timedOut) ? { restarting: true } : {}),
    ...(/^\d+$/.test(age) ? { qemuAgeSeconds: Number(age) } : {}),
  };
}

export function parseHostProbe(stdout: string, vmids: readonly number[]): HostObservation {
  const s = splitSections(stdout);
  const vms = new Map<number, VmObservation>();
  for (const vmid of vmids) vms.set(vmid, parseVm(s, vmid));
  const txg = s.get("txg");
  const boot = /zfs_txg_timeout=(\d+)/.exec(s.get("txg-boot") ?? "")?.[1];
  return {
    vms,
    storage: parseStorageCfg(s.get("storage") ?? ""),
    txgLive: txg === undefined || txg.startsWith("!") ? undefined : Number(txg),
    txgBoot: boot === undefined ? undefined : Number(boot),
  };
}

/** A machine the probe could not read: the message names it and says why. */
export interface Unreachable {
  readonly unreachable: string;
  /** Its SSH server answered and refused us (a changed host key, our key not accepted): the
   * machine is up, not booting, and waiting will not help. */
  readonly refused?: true;
}

export function reachable<T extends object>(value: T | Unreachable | undefined): value is T {
  return value !== undefined && !("unreachable" in value);
}
