// The lab fixture: which Proxmox hosts and K3s guest VMs the lab builds, and their state
// before the program runs. Validated with zod; every error names the host and the field.
import * as fs from "fs";
import * as YAML from "yaml";
import { z } from "zod";

const HostName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/, "must be a lowercase host name (a-z, 0-9, '-')");

const LoopbackAddress = z
  .string()
  .regex(/^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, "must be a 127.x.y.z loopback address")
  .refine((a) => a.split(".").every((o) => Number(o) <= 255), "is not an IPv4 address")
  .refine((a) => a !== "127.0.0.1" && !a.endsWith(".0") && !a.endsWith(".255"), {
    message: "must not be 127.0.0.1 or a .0/.255 address (the machine's own loopback)",
  });

export const K3sVersion = z
  .string()
  .regex(/^v\d+\.\d+\.\d+\+k3s\d+$/, "must look like v1.33.6+k3s1");

const SysctlValues = z.record(
  z.string().regex(/^[a-z0-9_]+(\.[a-z0-9_-]+)+$/, "must be a sysctl key like vm.swappiness"),
  z.union([z.number(), z.string()]),
);

const ExtraFiles = z.record(
  z
    .string()
    .regex(/^\/(etc|var\/lib\/rancher)\/[^\0]+$/, "must be a path under /etc or /var/lib/rancher"),
  z.string(),
);

const KernelRelease = z
  .string()
  .regex(/^\d+\.\d+\.\d+-\d+-pve$/, "must be a Proxmox kernel release like 6.8.12-4-pve");

export const QMP_STATUSES = [
  "running",
  "paused",
  "prelaunch",
  "suspended",
  "io-error",
  "internal-error",
  "guest-panicked",
  "postmigrate",
] as const;

export const ProxmoxHostSpec = z
  .object({
    // Test host name, also its hostname and its Proxmox node name.
    name: HostName,
    // Root-namespace loopback address the machine reaches its sshd on (port 22).
    address: LoopbackAddress,
    // ZFS module present with these parameters; omit for a host without ZFS.
    zfs: z
      .object({
        // /sys/module/zfs/parameters/zfs_txg_timeout at boot (ZFS default: 5).
        txgTimeout: z.number().int().min(1).max(3600),
        // zfs_arc_max at boot, 0 = ZFS default.
        arcMax: z.number().int().min(0).default(0),
      })
      .strict()
      .optional(),
    // Extra files to plant in the host's private /etc (e.g. /etc/modprobe.d/zfs.conf).
    files: ExtraFiles.default({}),
    // Root on ZFS with these kernels in /boot, each with an initramfs built at `lab up` from the
    // host's /etc/modprobe.d; omit for a root that is not on ZFS.
    rootOnZfs: z
      .object({
        // Installed kernel releases (/boot/vmlinuz-R and /boot/initrd.img-R).
        kernels: z.array(KernelRelease).min(1),
        // The booted one, what `uname -r` says.
        running: KernelRelease,
      })
      .strict()
      .optional(),
    // /etc/pve/storage.cfg; default: `local` (dir) and `local-zfs` (zfspool).
    storageCfg: z.string().optional(),
    // Cluster quorum: without it no VM starts (check_cfs_quorum), not even after a qm reboot.
    quorate: z.boolean().default(true),
  })
  .strict();
export type ProxmoxHostSpec = z.infer<typeof ProxmoxHostSpec>;

export const GuestSpec = z
  .object({
    // Test host name, also the VM's name, hostname and K3s node name.
    name: HostName,
    // Root-namespace loopback address for its sshd (22) and etcd client port (2379).
    address: LoopbackAddress,
    // The Proxmox host the VM runs on (its qm and /etc/pve hold the VM config).
    proxmoxHost: HostName,
    // Proxmox VM id, unique in the cluster.
    vmid: z.number().int().min(100).max(999999999),
    // K3s role; each server runs a real etcd member.
    role: z.enum(["server", "agent"]),
    // K3s version installed and running when the lab comes up.
    k3sVersion: K3sVersion,
    // Extra installer arguments after the role (INSTALL_K3S_EXEC style), e.g. --disable=traefik;
    // install.sh writes them into the unit's ExecStart.
    installArgs: z.array(z.string()).default([]),
    // The installer's environment at install time, e.g. HTTP_PROXY; install.sh's create_env_file
    // writes the K3S_*, CONTAINERD_* and proxy variables into k3s[-agent].service.env.
    installEnv: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"),
        z.string(),
      )
      .default({}),
    // The guest's time zone (/etc/localtime, /etc/timezone), e.g. Australia/Sydney; default the
    // machine's.
    timezone: z
      .string()
      .regex(/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, "must be a zone name like Australia/Sydney")
      .refine((tz) => fs.existsSync(`/usr/share/zoneinfo/${tz}`), "is not in /usr/share/zoneinfo")
      .optional(),
    // Content of /etc/rancher/k3s/config.yaml; omit for no file.
    config: z.record(z.string(), z.unknown()).optional(),
    // VM config lines (qm format) over the lab defaults, e.g. scsi0, scsihw, lock.
    vm: z
      .record(z.string().regex(/^[a-z][a-z0-9_-]*$/), z.union([z.string(), z.number()]))
      .default({}),
    // Sysctl values the guest boots with, over the fixture's sysctlDefaults.
    sysctl: SysctlValues.default({}),
    // Extra files to plant (e.g. /etc/sysctl.d/60-custom.conf, /etc/sysctl.conf).
    files: ExtraFiles.default({}),
    // How the VM behaves under qm (lab/README.md, Conformance).
    qm: z
      .object({
        // Seconds from `qm reboot` returning (VM stopped) to qmeventd's `qm cleanup` starting it.
        restartDelaySeconds: z.number().min(0).max(600).default(2),
        // An HA resource: the start after a reboot goes through ha-manager, 10 s later.
        ha: z.boolean().default(false),
        // Seconds the guest takes to power off after the ACPI shutdown request.
        shutdownSeconds: z.number().min(0).max(3600).default(0),
        // QEMU's run state (`qm status`) while the lab runs it, until a start or `qm resume`.
        qmpstatus: z.enum(QMP_STATUSES).default("running"),
      })
      .strict()
      .default({ restartDelaySeconds: 2, ha: false, shutdownSeconds: 0, qmpstatus: "running" }),
  })
  .strict();
export type GuestSpec = z.infer<typeof GuestSpec>;

export const FixtureSpec = z
  .object({
    // Fixture name, used in the etcd cluster token and in `lab status`.
    name: HostName,
    // Seconds a guest takes to boot after `qm start` / `qm reboot` / an in-guest reboot.
    restartSeconds: z.number().min(0).max(600),
    // Port of the installer stand-in on every guest's 127.0.0.1.
    installerPort: z.number().int().min(1024).max(65535).default(8088),
    // kube-controller-manager's --node-monitor-grace-period (upstream: 40 s; K3s keeps it) and
    // the kubelet's (kwok's) lease duration: a node whose k3s stops is Ready=Unknown after this.
    nodeMonitorGracePeriodSeconds: z.number().int().min(5).default(40),
    // Kubernetes manifests (files in lab/fixtures/workloads/) applied once every node is Ready.
    workloads: z.array(z.string().regex(/^[a-z0-9-]+\.yaml$/)).default([]),
    // The etcd leader's learner/EtcdIsVoter loop period. K3s: manageTickerTime, 15 s
    // (pkg/etcd/etcd.go); a shorter one is a lab-only speed-up.
    etcdManageTickSeconds: z.number().min(1).max(60).default(15),
    // Sysctl values every guest boots with (the kernel defaults of the post's guests).
    sysctlDefaults: SysctlValues.default({}),
    k3s: z
      .object({
        // The cluster token every server was installed with.
        token: z.string().min(8),
        // What the installer's stable channel resolves to.
        stableVersion: K3sVersion,
        // Versions the installer can download; others fail like the real installer.
        releases: z.array(K3sVersion).optional(),
      })
      .strict(),
    proxmoxHosts: z.array(ProxmoxHostSpec).min(1),
    guests: z.array(GuestSpec).min(1),
  })
  .strict();
export type FixtureSpec = z.infer<typeof FixtureSpec>;

export const DEFAULT_RELEASES = [
  "v1.31.13+k3s1",
  "v1.32.4+k3s1",
  "v1.32.9+k3s1",
  "v1.32.10+k3s1",
  "v1.33.5+k3s1",
  "v1.33.6+k3s1",
  "v1.34.2+k3s1",
];

/** Cross-host rules zod's per-field schema cannot express. Returns readable problems. */
export function crossCheck(f: FixtureSpec): string[] {
  const problems: string[] = [];
  const all = [
    ...f.proxmoxHosts.map((h, i) => ({ where: `proxmoxHosts[${i}] (${h.name})`, ...h })),
    ...f.guests.map((g, i) => ({ where: `guests[${i}] (${g.name})`, ...g })),
  ];
  const seen = new Map<string, string>();
  const claim = (key: string, where: string): string | undefined => {
    const first = seen.get(key);
    if (!first) seen.set(key, where);
    return first;
  };
  for (const h of all) {
    const sameName = claim(`name=${h.name}`, h.where);
    if (sameName) problems.push(`${h.where}.name: \`${h.name}\` is also used by ${sameName}`);
    const sameAddress = claim(`address=${h.address}`, h.where);
    const octet = h.address.split(".")[3];
    const sameBridge = claim(`octet=${octet}`, h.where);
    if (sameAddress) {
      problems.push(`${h.where}.address: \`${h.address}\` is also used by ${sameAddress}`);
    } else if (sameBridge) {
      problems.push(
        `${h.where}.address: \`${h.address}\` ends in .${octet} like ${sameBridge}; the last ` +
          `octet picks the bridge address 198.18.0.${octet}, so it must be unique`,
      );
    }
  }
  f.proxmoxHosts.forEach((h, i) => {
    if (h.rootOnZfs && !h.rootOnZfs.kernels.includes(h.rootOnZfs.running)) {
      problems.push(
        `proxmoxHosts[${i}] (${h.name}).rootOnZfs.running: \`${h.rootOnZfs.running}\` is not one of its kernels`,
      );
    }
  });
  const pveNames = new Set(f.proxmoxHosts.map((h) => h.name));
  const releases = new Set(f.k3s.releases ?? DEFAULT_RELEASES);
  const vmids = new Map<number, string>();
  f.guests.forEach((g, i) => {
    const where = `guests[${i}] (${g.name})`;
    if (!pveNames.has(g.proxmoxHost)) {
      problems.push(`${where}.proxmoxHost: \`${g.proxmoxHost}\` is not one of proxmoxHosts`);
    }
    const other = vmids.get(g.vmid);
    if (other) problems.push(`${where}.vmid: \`${g.vmid}\` is also used by ${other}`);
    vmids.set(g.vmid, where);
    if (!releases.has(g.k3sVersion)) {
      problems.push(`${where}.k3sVersion: \`${g.k3sVersion}\` is not in k3s.releases`);
    }
    if (g.vm.name !== undefined && g.vm.name !== g.name) {
      problems.push(`${where}.vm.name: must be the guest's name \`${g.name}\` or absent`);
    }
  });
  if (!releases.has(f.k3s.stableVersion)) {
    problems.push(`k3s.stableVersion: \`${f.k3s.stableVersion}\` is not in k3s.releases`);
  }
  if (!f.guests.some((g) => g.role === "server")) {
    problems.push("guests: at least one guest must have role `server`");
  }
  return problems;
}

function describePath(raw: unknown, path: PropertyKey[]): string {
  let out = "";
  let node: unknown = raw;
  for (const key of path) {
    node =
      node && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[key] : undefined;
    if (typeof key === "number") {
      const name = node && typeof node === "object" ? (node as { name?: unknown }).name : undefined;
      out += `[${key}]` + (typeof name === "string" ? ` (${name})` : "");
    } else {
      out += (out ? "." : "") + String(key);
    }
  }
  return out || "(fixture)";
}

/** Parse and validate a fixture file; throws one error listing every problem. */
export function loadFixture(file: string): FixtureSpec {
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`fixture ${file}: ${(e as Error).message}`);
  }
  const parsed = FixtureSpec.safeParse(raw);
  const problems = parsed.success
    ? crossCheck(parsed.data)
    : parsed.error.issues.map((i) => `${describePath(raw, i.path)}: ${i.message}`);
  if (problems.length > 0) {
    throw new Error(`fixture ${file} is invalid:\n  - ${problems.join("\n  - ")}`);
  }
  return parsed.data!;
}
