// The lab's runtime view of a fixture (written to <lab>/shared/fixture.json for the
// supervisors and stand-ins): one entry per test host with everything derived filled in.
import * as crypto from "crypto";
import * as os from "os";
import { DEFAULT_RELEASES, FixtureSpec, GuestSpec } from "./fixture";

export const BRIDGE_PREFIX = "198.18.0";
export const SSH_PORT = 22;
export const ETCD_CLIENT_PORT = 2379;

interface HostBase {
  name: string;
  address: string;
  bridgeAddress: string;
  forwards: number[];
  sysctl: Record<string, string | number>;
}

export interface ProxmoxHost extends HostBase {
  kind: "proxmox";
  zfs: { parameters: Record<string, string> } | null;
  vms: { vmid: number; guest: string }[];
  rootOnZfs: { kernels: string[]; running: string } | null;
  quorate: boolean;
}

export interface GuestHost extends HostBase {
  kind: "guest";
  proxmoxHost: string;
  vmid: number;
  role: "server" | "agent";
  k3sVersion: string;
  installArgs: string[];
  installEnv: Record<string, string>;
  timezone?: string;
  qm: GuestSpec["qm"];
}

export type LabHost = ProxmoxHost | GuestHost;

export interface LabModel {
  name: string;
  restartSeconds: number;
  installerPort: number;
  nodeMonitorGracePeriodSeconds: number;
  workloads: string[];
  etcdManageTickSeconds: number;
  realHostname: string;
  createdAt: string;
  k3s: { token: string; releases: string[]; channels: Record<string, string> };
  hosts: LabHost[];
}

function shortHash(s: string): string {
  return crypto.createHash("sha1").update(s).digest("hex").slice(0, 8);
}

export function bridgeAddress(loopback: string): string {
  return `${BRIDGE_PREFIX}.${loopback.split(".")[3]}`;
}

function compareVersions(a: string, b: string): number {
  const nums = (v: string) =>
    v
      .replace(/^v/, "")
      .split(/[.+k]+/)
      .filter(Boolean)
      .map(Number);
  const [x, y] = [nums(a), nums(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  }
  return 0;
}

/** The VM config a guest starts with: lab defaults, then the fixture's `vm` lines. */
export function vmConfig(g: GuestSpec): Record<string, string> {
  const h = shortHash(g.name);
  const uuid = `${h}-${h.slice(0, 4)}-4${h.slice(1, 4)}-8${h.slice(2, 5)}-${h}${h.slice(0, 4)}`;
  const mac = `BC:24:11:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`.toUpperCase();
  const defaults: Record<string, string | number> = {
    boot: "order=scsi0;net0",
    cores: 4,
    cpu: "host",
    memory: 8192,
    meta: "creation-qemu=9.0.2,ctime=1732000000",
    name: g.name,
    net0: `virtio=${mac},bridge=vmbr0,firewall=1`,
    numa: 0,
    onboot: 1,
    ostype: "l26",
    scsi0: `local-zfs:vm-${g.vmid}-disk-0,size=64G`,
    scsihw: "virtio-scsi-single",
    smbios1: `uuid=${uuid}`,
    sockets: 1,
    vmgenid: uuid,
  };
  return Object.fromEntries(
    Object.entries({ ...defaults, ...g.vm }).map(([k, v]) => [k, String(v)]),
  );
}

/** Each guest's eth0 MAC: its VM's `net0` MAC (qemu-server `print_netdevice_full` gives the guest
 * NIC `mac=` from net0's `virtio=` value), so the guest sees the address `qm config` shows. Read
 * here from qemu-server's format, not with discover's `netMac`, so the lab does not agree with
 * the program by construction. */
export function guestMacs(f: FixtureSpec): Map<string, string> {
  const macs = new Map<string, string>();
  for (const g of f.guests) {
    const mac = /(?:^|,)[a-z0-9]+=([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})(?:,|$)/.exec(
      vmConfig(g).net0 ?? "",
    )?.[1];
    if (mac) macs.set(g.name, mac.toLowerCase());
  }
  return macs;
}

export function buildModel(f: FixtureSpec): LabModel {
  const releases = f.k3s.releases ?? DEFAULT_RELEASES;
  const latest = [...releases].sort(compareVersions).at(-1)!;
  const proxmox: ProxmoxHost[] = f.proxmoxHosts.map((p) => ({
    kind: "proxmox",
    name: p.name,
    address: p.address,
    bridgeAddress: bridgeAddress(p.address),
    forwards: [SSH_PORT],
    sysctl: {},
    zfs: p.zfs
      ? {
          parameters: {
            zfs_txg_timeout: String(p.zfs.txgTimeout),
            zfs_arc_max: String(p.zfs.arcMax),
            zfs_dirty_data_max: "4294967296",
            zfs_vdev_async_write_max_active: "10",
          },
        }
      : null,
    vms: f.guests
      .filter((g) => g.proxmoxHost === p.name)
      .map((g) => ({ vmid: g.vmid, guest: g.name })),
    rootOnZfs: p.rootOnZfs ?? null,
    quorate: p.quorate,
  }));
  const guests: GuestHost[] = f.guests.map((g) => ({
    kind: "guest",
    name: g.name,
    address: g.address,
    bridgeAddress: bridgeAddress(g.address),
    forwards: g.role === "server" ? [SSH_PORT, ETCD_CLIENT_PORT] : [SSH_PORT],
    sysctl: { ...f.sysctlDefaults, ...g.sysctl },
    proxmoxHost: g.proxmoxHost,
    vmid: g.vmid,
    role: g.role,
    k3sVersion: g.k3sVersion,
    installArgs: g.installArgs,
    installEnv: g.installEnv,
    ...(g.timezone ? { timezone: g.timezone } : {}),
    qm: g.qm,
  }));
  return {
    name: f.name,
    restartSeconds: f.restartSeconds,
    installerPort: f.installerPort,
    nodeMonitorGracePeriodSeconds: f.nodeMonitorGracePeriodSeconds,
    workloads: f.workloads,
    etcdManageTickSeconds: f.etcdManageTickSeconds,
    realHostname: os.hostname(),
    createdAt: new Date().toISOString(),
    k3s: {
      token: f.k3s.token,
      releases,
      channels: { stable: f.k3s.stableVersion, latest },
    },
    hosts: [...proxmox, ...guests],
  };
}
