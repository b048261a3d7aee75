import * as assert from "assert";
import { dataDiskOf, parseBlockMounts } from "../../discover/dataDisk";
import { readFileSync } from "fs";
import { join } from "path";
import { parse } from "yaml";
import { buildClusterSpec, sortStackEntries } from "../../config";
import { agree } from "../../discover/agreement";
import { keyscanLine, parseDiscoverArgs, USAGE } from "../../discover/args";
import { k3sConfigAsRun } from "../../discover/guestConfig";
import {
  parseApiNodes,
  parseGuestDiscovery,
  parseHostDiscovery,
  parseSysctlFile,
  renderHostDiscovery,
} from "../../discover/read";
import type { NodeObservation } from "../../probe/observations";
import type { DiscoveredHost, DiscoveredNode } from "../../discover/facts";
import { matchNodes, netMac, vmDisks } from "../../discover/match";
import { hostKeyFingerprint, renderDiscoveredStack } from "../../discover/render";
import { confirmed, fingerprintLines, keyChangedSinceScan } from "../../discover/trust";

const KEY = (n: number) =>
  `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${String(n).repeat(43).slice(0, 43)}`;

const vmConfig = (mac: string, drive: string) => ({
  scsihw: "virtio-scsi-single",
  scsi0: drive,
  ide2: "none,media=cdrom",
  net0: `virtio=${mac},bridge=vmbr0,firewall=1`,
});

/** The post's cluster as discover would read it: fawn installed later, without --disable. */
function postHosts(): DiscoveredHost[] {
  return [
    {
      name: "pve",
      address: "pve.maas",
      hostKey: KEY(1),
      txgTimeout: 5,
      vms: [
        {
          vmid: 105,
          config: vmConfig("BC:24:11:00:00:05", "local-zfs:vm-105-disk-0,size=64G"),
          agentAddresses: ["127.0.0.1", "10.0.0.21"],
        },
      ],
    },
    {
      name: "piglet",
      address: "piglet.maas",
      hostKey: KEY(2),
      txgTimeout: 5,
      vms: [
        { vmid: 106, config: vmConfig("BC:24:11:00:00:06", "local-zfs:vm-106-disk-0,size=64G") },
        { vmid: 200, config: vmConfig("BC:24:11:00:02:00", "local-zfs:vm-200-disk-0,size=8G") },
      ],
    },
    {
      name: "fawn",
      address: "still-fawn.maas",
      hostKey: KEY(3),
      txgTimeout: 5,
      vms: [
        { vmid: 108, config: vmConfig("BC:24:11:00:00:08", "local-zfs:vm-108-disk-0,size=64G") },
      ],
    },
  ];
}

function server(name: string, ip: string, mac: string, version: string, disable?: string[]) {
  return {
    name,
    role: "server" as const,
    internalIp: ip,
    kubeletVersion: version,
    guest: {
      address: `${name}.maas`,
      hostKey: KEY(ip.length + name.length),
      macs: [mac.toLowerCase()],
      k3sConfig: {
        "node-ip": ip,
        "write-kubeconfig-mode": "0644",
        ...(disable ? { disable } : {}),
        token: "secret-not-carried",
      },
    },
  };
}

function postNodes(): DiscoveredNode[] {
  return [
    server("k3s-vm-pve", "10.0.0.21", "BC:24:11:00:00:05", "v1.32.4+k3s1", ["traefik"]),
    server("k3s-vm-piglet", "10.0.0.22", "BC:24:11:00:00:06", "v1.32.4+k3s1", ["traefik"]),
    server("k3s-vm-fawn", "10.0.0.23", "BC:24:11:00:00:08", "v1.33.5+k3s1"),
    { name: "k3s-agent-1", role: "agent", internalIp: "10.0.0.31", kubeletVersion: "v1.32.4+k3s1" },
  ];
}

describe("discover: a stack file from the cluster that runs", () => {
  it("reads a netN's MAC in both of qemu-server's forms, and a VM's disks without its CD-ROM", () => {
    assert.strictEqual(netMac("virtio=BC:24:11:AA:BB:CC,bridge=vmbr0"), "bc:24:11:aa:bb:cc");
    assert.strictEqual(
      netMac("bridge=vmbr0,macaddr=BC:24:11:AA:BB:CD,model=virtio"),
      "bc:24:11:aa:bb:cd",
    );
    assert.strictEqual(netMac("bridge=vmbr0"), undefined);
    assert.deepStrictEqual(vmDisks(vmConfig("BC:24:11:00:00:05", "local-zfs:x,size=1G")), [
      "scsi0",
    ]);
  });

  it("ties nodes by the guest agent, else by MAC; leaves out what it cannot tie, saying why", () => {
    const { matched, leftOut } = matchNodes(postNodes(), postHosts());
    assert.deepStrictEqual(
      matched.map((m) => `${m.node.name} ${m.host.name}/${m.vm.vmid} ${m.disk} ${m.by}`),
      [
        "k3s-vm-pve pve/105 scsi0 guest agent",
        "k3s-vm-piglet piglet/106 scsi0 MAC address",
        "k3s-vm-fawn fawn/108 scsi0 MAC address",
      ],
    );
    assert.deepStrictEqual(leftOut, ["node `k3s-agent-1` (10.0.0.31): no SSH to its guest"]);
  });

  it("a VM with two disks and no word from the guest on the data dir is left out", () => {
    const hosts = postHosts();
    const vm = hosts[2].vms[0];
    hosts[2] = {
      ...hosts[2],
      vms: [{ ...vm, config: { ...vm.config, scsi1: "local-zfs:d,size=1G" } }],
    };
    const { leftOut } = matchNodes(postNodes().slice(2, 3), hosts);
    assert.deepStrictEqual(leftOut, [
      "node `k3s-vm-fawn` (VM 108 on `fawn`): VM 108 has 2 disks (scsi0, scsi1) and the guest's data dir is on none it can name (a SCSI disk's /dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-scsiN)",
    ]);
  });

  it("two VMs with the node's MAC: left out, naming both", () => {
    const hosts = postHosts();
    hosts[1] = {
      ...hosts[1],
      vms: [hosts[1].vms[0], { vmid: 107, config: hosts[1].vms[0].config }],
    };
    const { leftOut } = matchNodes(postNodes().slice(1, 2), hosts);
    assert.deepStrictEqual(leftOut, [
      "node `k3s-vm-piglet` (10.0.0.22): more than one VM matches by MAC address (VM 106 on `piglet`, VM 107 on `piglet`)",
    ]);
  });

  it("the servers' differing `disable` is a warning naming each server, not a guess", () => {
    const a = agree(matchNodes(postNodes(), postHosts()).matched);
    assert.strictEqual(a.k3sVersion, "v1.33.5+k3s1");
    assert.deepStrictEqual(
      [...a.nodeVersions],
      [
        ["k3s-vm-pve", "v1.32.4+k3s1"],
        ["k3s-vm-piglet", "v1.32.4+k3s1"],
      ],
    );
    assert.deepStrictEqual(a.serverConfig, {});
    assert.deepStrictEqual(a.warnings, [
      "servers differ on `disable` (`k3s-vm-pve` [traefik], `k3s-vm-piglet` [traefik], `k3s-vm-fawn` not set); K3s needs one value on every server: left out of serverConfig, set it yourself",
    ]);
  });

  it("writes the post's cluster as it runs, with the tweaks commented out (exact text)", () => {
    const out = renderDiscoveredStack({
      stack: "homelab",
      hosts: postHosts(),
      nodes: postNodes(),
      sshUser: "root",
      readAt: "2026-12-03T17:00:00Z",
    });
    assert.strictEqual(
      out.text,
      [
        "# Written by `npm run discover` at 2026-12-03T17:00:00Z from what the cluster runs. Unless",
        "# a warning it printed says otherwise, its first preview restarts nothing: it plans the",
        "# program's own config.yaml (the token as token-file, install-time flags in the file),",
        "# written without a restart where K3s runs those settings already.",
        "# Review it, then switch on the tweaks below in a commit of their own.",
        "# Secrets are not in this file; set them with",
        "#   pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519",
        '#   pulumi config set --secret token "$(ssh root@SERVER cat /var/lib/rancher/k3s/server/token)"',
        "",
        "config:",
        "  k3s-homelab:cluster:",
        "    k3sVersion: v1.33.5+k3s1",
        "    registrationAddress: https://10.0.0.21:6443",
        "    serverConfig: {}",
        "    sysctl: {}",
        "    disk:",
        "      cache: none",
        "      iothread: false",
        "    zfsTxgTimeout: 5",
        "    ssh:",
        "      user: root",
        "    rollOrder:",
        "      - k3s-vm-pve",
        "      - k3s-vm-piglet",
        "      - k3s-vm-fawn",
        "    # The post's disk tweak: the host page cache acknowledges etcd's fdatasync, and an I/O",
        "    # thread serves the disk (applied by a gated qm reboot, one node at a time):",
        "    # disk: { cache: writeback, iothread: true }",
        "    # The post's sysctl: less swapping and smaller dirty-page bursts in front of etcd's writes",
        "    # (merge into sysctl above):",
        "    # vm.swappiness: 10",
        "    # vm.dirty_ratio: 5",
        "    # vm.dirty_background_ratio: 3",
        "    # The post's ZFS tweak: commit a transaction group every 3 s instead of every 5 s:",
        "    # zfsTxgTimeout: 3",
        "  k3s-homelab:hosts:",
        "    # host key SHA256:68IN3bvlvHZc+bPHzkC3K7b2pt6JNE6LlBFIGTuXhC8",
        "    pve:",
        "      address: pve.maas",
        "      hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI1111111111111111111111111111111111111111111",
        "    # host key SHA256:Nqfc4Sehg3pDpfvFnth7joRWlcoVrvdte6HKxDLlu/U",
        "    piglet:",
        "      address: piglet.maas",
        "      hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI2222222222222222222222222222222222222222222",
        "    # host key SHA256:TlT3ECwcbdlFB5Sx/v7UFR5nQ0wWcKmDUaf0e8ZgTxk",
        "    fawn:",
        "      address: still-fawn.maas",
        "      hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI3333333333333333333333333333333333333333333",
        "  k3s-homelab:nodes:",
        "    # host key SHA256:Vixjq4ma98qfSCAW76mQdzFwOXTUDCOXrNcaUYrlbfI; VM tied by guest agent",
        "    # runs v1.32.4+k3s1, not the cluster's v1.33.5+k3s1",
        "    k3s-vm-pve:",
        "      host: pve",
        "      vmid: 105",
        "      disk: scsi0",
        "      address: k3s-vm-pve.maas",
        "      role: server",
        "      hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI1919191919191919191919191919191919191919191",
        "      config:",
        "        node-ip: 10.0.0.21",
        '        write-kubeconfig-mode: "0644"',
        "      k3sVersion: v1.32.4+k3s1",
        "    # host key SHA256:Nqfc4Sehg3pDpfvFnth7joRWlcoVrvdte6HKxDLlu/U; VM tied by MAC address",
        "    # runs v1.32.4+k3s1, not the cluster's v1.33.5+k3s1",
        "    k3s-vm-piglet:",
        "      host: piglet",
        "      vmid: 106",
        "      disk: scsi0",
        "      address: k3s-vm-piglet.maas",
        "      role: server",
        "      hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI2222222222222222222222222222222222222222222",
        "      config:",
        "        node-ip: 10.0.0.22",
        '        write-kubeconfig-mode: "0644"',
        "      k3sVersion: v1.32.4+k3s1",
        "    # host key SHA256:+0ii1AS6oNF3oSDnD/LvlGbSqRZz9MZGDsoBG+ldaoU; VM tied by MAC address",
        "    k3s-vm-fawn:",
        "      host: fawn",
        "      vmid: 108",
        "      disk: scsi0",
        "      address: k3s-vm-fawn.maas",
        "      role: server",
        "      hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI2020202020202020202020202020202020202020202",
        "      config:",
        "        node-ip: 10.0.0.23",
        '        write-kubeconfig-mode: "0644"',
        "",
      ].join("\n"),
    );
    assert.deepStrictEqual(out.leftOut, ["node `k3s-agent-1` (10.0.0.31): no SSH to its guest"]);
    assert.strictEqual(out.warnings.length, 1);
    // What `npm run validate` does with it: no problem, and the versions as they run.
    const config = (parse(out.text) as { config: Record<string, unknown> }).config;
    const entries = sortStackEntries(config, () => true);
    assert.deepStrictEqual(entries.problems, []);
    const { spec } = buildClusterSpec(entries.structured);
    assert.deepStrictEqual(
      spec.nodes.map((n) => `${n.name} ${n.role} ${n.k3sVersion}`),
      [
        "k3s-vm-pve server v1.32.4+k3s1",
        "k3s-vm-piglet server v1.32.4+k3s1",
        "k3s-vm-fawn server v1.33.5+k3s1",
      ],
    );
  });

  it("prints host key fingerprints as ssh-keygen -lf does", () => {
    // `ssh-keygen -lf lab/keys/client.pub` prints this fingerprint.
    const line = readFileSync(join(__dirname, "..", "..", "lab", "keys", "client.pub"), "utf8");
    assert.strictEqual(
      hostKeyFingerprint(line.trim()),
      "SHA256:4qkH9qpgMqT9Vr9s0OLuREQumxNiDGnbEcRs3M5B4f4",
    );
  });
});

describe("discover: what K3s runs with, as K3s itself reads it", () => {
  const observed = (over: Partial<NodeObservation>): NodeObservation => ({
    configYaml: "",
    sysctl: {},
    sysctlFile: "",
    ...over,
  });

  it("env, then config.yaml and drop-ins (`key+` appends), then ExecStart flags; no secrets", () => {
    const own = observed({
      unitEnv: [{ name: "K3S_NODE_NAME", value: "pve" }, { name: "K3S_TOKEN" }],
      configYaml: "node-ip: 10.0.0.21\ndisable: servicelb\nwrite-kubeconfig-mode: 644\n",
      configDropins: [
        { path: "/etc/rancher/k3s/config.yaml.d/10-x.yaml", text: "disable+: [local-storage]\n" },
      ],
      execStart: [
        "server",
        "--disable=traefik",
        "--cluster-init",
        "--token",
        "abc",
        "-i",
        "10.0.0.99",
      ],
    });
    assert.deepStrictEqual(k3sConfigAsRun(own), {
      "node-name": "pve",
      "node-ip": "10.0.0.99",
      disable: ["servicelb", "local-storage", "traefik"],
      "write-kubeconfig-mode": "644",
      "cluster-init": true,
    });
  });

  it("a drop-in's plain key replaces what config.yaml set", () => {
    const own = observed({
      configYaml: "disable: [traefik]\n",
      configDropins: [
        { path: "/etc/rancher/k3s/config.yaml.d/20-y.yaml", text: "disable: [servicelb]\n" },
      ],
    });
    assert.deepStrictEqual(k3sConfigAsRun(own), { disable: ["servicelb"] });
  });
});

describe("discover: the read-only scripts and their answers", () => {
  it("the host script lists the VMs, then reads each one's running config and guest agent", () => {
    assert.strictEqual(
      renderHostDiscovery(),
      [
        "export LC_ALL=C",
        `printf '\\n@@ %s\\n' "vms"; qm list 2>/dev/null || true`,
        "for vmid in $(qm list 2>/dev/null | awk 'NR > 1 { print $1 }'); do",
        `  printf '\\n@@ %s\\n' "vm $vmid config"; qm config "$vmid" --current 2>/dev/null || true`,
        `  printf '\\n@@ %s\\n' "vm $vmid agent"; qm guest cmd "$vmid" network-get-interfaces 2>/dev/null || true`,
        "done",
        `printf '\\n@@ %s\\n' "storage"; cat /etc/pve/storage.cfg 2>/dev/null || true`,
        `printf '\\n@@ %s\\n' "txg"; cat /sys/module/zfs/parameters/zfs_txg_timeout 2>/dev/null || echo '!absent'`,
        "",
      ].join("\n"),
    );
  });

  it("reads qm list, each VM's config, the agent's addresses and the txg", () => {
    const host = parseHostDiscovery(
      [
        "@@ vms",
        "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       ",
        "       105 k3s-vm-pve           running    8192              64.00 4242      ",
        "       110 windows              stopped    4096              80.00 0         ",
        "@@ vm 105 config",
        "net0: virtio=BC:24:11:00:00:05,bridge=vmbr0",
        "scsi0: local-zfs:vm-105-disk-0,size=64G",
        "@@ vm 105 agent",
        '[{"name":"lo","ip-addresses":[{"ip-address":"127.0.0.1"}]},{"name":"eth0","hardware-address":"bc:24:11:00:00:05","ip-addresses":[{"ip-address":"10.0.0.21","prefix":24}]}]',
        "@@ vm 110 config",
        "ide0: local:iso/win.iso,media=cdrom",
        "@@ vm 110 agent",
        "@@ storage",
        "zfspool: local-zfs",
        "\tpool rpool/data",
        "@@ txg",
        "5",
      ].join("\n"),
      { name: "pve", address: "pve.maas", hostKey: KEY(1) },
    );
    assert.deepStrictEqual(
      host.vms.map((v) => [v.vmid, v.config.net0 ?? "", v.agentAddresses ?? "no agent"]),
      [
        [105, "virtio=BC:24:11:00:00:05,bridge=vmbr0", ["127.0.0.1", "10.0.0.21"]],
        [110, "", "no agent"],
      ],
    );
    assert.strictEqual(host.txgTimeout, 5);
    assert.strictEqual(host.storage?.get("local-zfs")?.type, "zfspool");
  });

  it("reads the API's nodes: role from K3s's labels, InternalIP, kubelet version", () => {
    const node = (name: string, labels: Record<string, string>, ip: string) => ({
      metadata: { name, labels },
      status: {
        addresses: [
          { type: "InternalIP", address: ip },
          { type: "Hostname", address: name },
        ],
        nodeInfo: { kubeletVersion: "v1.33.6+k3s1" },
      },
    });
    const json = JSON.stringify({
      items: [
        node("k3s-vm-pve", { "node-role.kubernetes.io/control-plane": "true" }, "10.0.0.21"),
        node("agent-1", { "kubernetes.io/os": "linux" }, "10.0.0.31"),
      ],
    });
    assert.deepStrictEqual(parseApiNodes(json), [
      {
        name: "k3s-vm-pve",
        role: "server",
        internalIp: "10.0.0.21",
        kubeletVersion: "v1.33.6+k3s1",
      },
      { name: "agent-1", role: "agent", internalIp: "10.0.0.31", kubeletVersion: "v1.33.6+k3s1" },
    ]);
    assert.throws(
      () => parseApiNodes('{"items":[{"metadata":{"name":"x"},"status":{}}]}'),
      /^Error: kubectl get nodes: unexpected answer at items\.0\.status\.nodeInfo: /,
    );
  });

  it("reads the guest's MACs, what K3s runs with and its sysctl file", () => {
    const guest = parseGuestDiscovery(
      [
        "@@ config",
        "node-ip: 10.0.0.21",
        "@@ unit-exec",
        "/usr/local/bin/k3s server --disable=traefik",
        "@@ sysctl-file",
        "# Managed by k3s-homelab",
        "vm.swappiness = 10",
        "@@ macs",
        "BC:24:11:00:00:05",
        "",
      ].join("\n"),
      { address: "10.0.0.21", hostKey: KEY(4) },
    );
    assert.deepStrictEqual(guest.macs, ["bc:24:11:00:00:05"]);
    assert.deepStrictEqual(guest.sysctl, { "vm.swappiness": "10" });
    assert.deepStrictEqual(guest.k3sConfig["node-ip"], "10.0.0.21");
    assert.deepStrictEqual(parseSysctlFile("; c\n-net.ipv4.ip_forward=1\n"), {
      "net.ipv4.ip_forward": "1",
    });
  });
});

describe("discover: the disk that holds the data dir, as the guest reports it", () => {
  const mounts = parseBlockMounts(
    [
      "/\tsda\tscsi-0QEMU_QEMU_HARDDISK_drive-scsi0 ",
      "/boot/efi\tsda\tscsi-0QEMU_QEMU_HARDDISK_drive-scsi0 ",
      "/var/lib/rancher\tsdb\tscsi-0QEMU_QEMU_HARDDISK_drive-scsi1 wwn-0x5000c500a1b2c3d4 ",
      "/srv/my\\x20data\tvda\t",
      "",
    ].join("\n"),
  );

  it("reads each block mount, its disk and by-id names", () => {
    assert.deepStrictEqual(mounts[2], {
      target: "/var/lib/rancher",
      disk: "sdb",
      ids: ["scsi-0QEMU_QEMU_HARDDISK_drive-scsi1", "wwn-0x5000c500a1b2c3d4"],
    });
    assert.strictEqual(mounts[3].target, "/srv/my data");
  });

  it("takes the mount that holds the data dir, by its Proxmox drive name", () => {
    assert.strictEqual(dataDiskOf(mounts, "/var/lib/rancher/k3s"), "scsi1");
    assert.strictEqual(dataDiskOf(mounts, "/opt/k3s"), "scsi0");
    // /var/lib/ranchero is not inside /var/lib/rancher.
    assert.strictEqual(dataDiskOf(mounts, "/var/lib/ranchero"), "scsi0");
    // A VirtIO block disk carries no drive name: nothing is guessed.
    assert.strictEqual(dataDiskOf(mounts, "/srv/my data/k3s"), undefined);
    assert.strictEqual(dataDiskOf([], "/var/lib/rancher/k3s"), undefined);
  });

  it("a VM with two disks is matched on the disk the guest names", () => {
    const guest = parseGuestDiscovery(
      [
        "@@ config",
        "data-dir: /data/k3s",
        "@@ macs",
        "bc:24:11:00:00:06",
        "@@ block-mounts",
        "/\tsda\tscsi-0QEMU_QEMU_HARDDISK_drive-scsi0 ",
        "/data\tsdb\tscsi-0QEMU_QEMU_HARDDISK_drive-scsi1 ",
        "",
      ].join("\n"),
      { address: "10.0.0.23", hostKey: KEY(6) },
    );
    assert.strictEqual(guest.dataDisk, "scsi1");
  });
});

describe("discover: its command line", () => {
  it("reads hosts, the server, node addresses and the defaults", () => {
    const args = parseDiscoverArgs(
      ["--host", "pve=pve.maas", "--host", "fawn=still-fawn.maas", "--server", "k3s-vm-pve.maas"],
      "/home/me",
    );
    assert.deepStrictEqual(
      { ...args, hosts: [...args.hosts], nodeAddresses: [...args.nodeAddresses] },
      {
        hosts: [
          ["pve", "pve.maas"],
          ["fawn", "still-fawn.maas"],
        ],
        server: "k3s-vm-pve.maas",
        nodeAddresses: [],
        stack: "homelab",
        sshKey: "/home/me/.ssh/id_ed25519",
        user: "root",
        port: 22,
        dir: ".",
        force: false,
        yes: false,
      },
    );
  });

  it("takes --force and --yes as switches anywhere on the line", () => {
    const args = parseDiscoverArgs(["--yes", "--host", "a=b", "--force", "--server", "x"], "/h");
    assert.deepStrictEqual([args.force, args.yes, args.server], [true, true, "x"]);
  });

  it("refuses what it cannot use, naming the flag", () => {
    assert.throws(() => parseDiscoverArgs(["--host", "pve", "--server", "x"], "/h"), {
      message: "--host takes NAME=ADDRESS, not `pve`",
    });
    assert.throws(
      () => parseDiscoverArgs(["--host", "a=b", "--server", "x", "--port", "0"], "/h"),
      {
        message: "--port must be a port number, not `0`",
      },
    );
    assert.throws(() => parseDiscoverArgs(["--host", "a=b"], "/h"), { message: USAGE });
  });

  it("takes the ed25519 line of ssh-keyscan's output", () => {
    assert.strictEqual(
      keyscanLine(
        "# 127.0.0.11:22 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u7\n127.0.0.11 ssh-ed25519 AAAAC3Nza+/x=\n",
      ),
      "ssh-ed25519 AAAAC3Nza+/x=",
    );
    assert.strictEqual(keyscanLine("# nothing\n"), undefined);
  });
});

describe("discover: the host keys it scans", () => {
  // The lab's committed test-only keys; fingerprints as `ssh-keygen -lf lab/keys/<host>_ed25519.pub` prints them.
  const PVE = {
    name: "pve",
    address: "127.0.0.11",
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA7HJhldsPyBp9AfWGeQU6OBJdpd0sgdI66rbfEix/Yl",
  };
  const PIGLET_BLOB = Buffer.from(
    "AAAAC3NzaC1lZDI1NTE5AAAAIH0bPHx1Z6lWJAP8Z0izXaZ/tqN7DY1Gd5JTeDaSDCtW",
    "base64",
  );

  it("prints each with the fingerprint ssh-keygen -lf shows on the machine", () => {
    assert.deepStrictEqual(fingerprintLines([PVE]), [
      "  pve (127.0.0.11): ssh-ed25519 SHA256:lZJZ1+JPM5ERsY2iN31r/+jmqUqrudTJ2MgLdaRxNac",
    ]);
  });

  it("connects only on a typed yes; end of input or anything else is a no", () => {
    assert.deepStrictEqual(
      ["yes", "y", " YES ", "no", "", "yes please", undefined].map(confirmed),
      [true, true, true, false, false, false, false],
    );
  });

  it("a key that changed between the scan and the connection is refused, naming both fingerprints", () => {
    assert.strictEqual(
      keyChangedSinceScan(PVE, PIGLET_BLOB),
      "pve (127.0.0.11): its host key changed between the scan and the connection: ssh-keyscan read SHA256:lZJZ1+JPM5ERsY2iN31r/+jmqUqrudTJ2MgLdaRxNac, the connection presented SHA256:DkGnXU102Qm/wnduwuAaeaonRZHJxQiH7yuRAjxKGnE; refusing to connect, and no file is written. Run discover again once you know why (a reinstall, regenerated host keys), or suspect something between you and it",
    );
  });
});
