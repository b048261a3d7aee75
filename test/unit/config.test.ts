import * as assert from "assert";
import {
  buildClusterSpec,
  ConfigError,
  listedOrderWarning,
  WAL_FSYNC_P99_FAIL_MS,
} from "../../config";
import { THRESHOLDS } from "../../doctor/thresholds";
import { validRaw } from "./fixtures";

type Raw = ReturnType<typeof validRaw>;

function problemsOf(mutate: (raw: Raw) => void): readonly string[] {
  const raw = validRaw();
  mutate(raw);
  try {
    buildClusterSpec(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

function warningsOf(mutate: (raw: Raw) => void): readonly string[] {
  const raw = validRaw();
  mutate(raw);
  return buildClusterSpec(raw).warnings;
}

describe("config: buildClusterSpec", () => {
  it("accepts the valid three-server cluster and applies defaults", () => {
    const { spec, warnings } = buildClusterSpec(validRaw());
    assert.deepStrictEqual(warnings, []);
    assert.deepStrictEqual(spec.sysctl, {
      "vm.swappiness": "10",
      "vm.dirty_ratio": "5",
      "vm.dirty_background_ratio": "3",
    });
    assert.deepStrictEqual(spec.disk, { cache: "writeback", iothread: true });
    assert.strictEqual(spec.zfsTxgTimeout, 3);
    assert.strictEqual(spec.installerUrl, "https://get.k3s.io");
    assert.deepStrictEqual(
      spec.nodes.map((n) => [n.name, n.nodeName, n.user, n.port, n.k3sVersion, n.controllerChange]),
      [
        ["k3s-vm-pve", "k3s-vm-pve", "root", 22, "v1.33.6+k3s1", false],
        ["k3s-vm-piglet", "k3s-vm-piglet", "root", 22, "v1.33.6+k3s1", false],
        ["k3s-vm-fawn", "k3s-vm-fawn", "root", 22, "v1.33.6+k3s1", false],
      ],
    );
  });

  it("keeps a false or zero from config (defaults use ??, not ||)", () => {
    const raw = validRaw();
    raw.cluster.disk = { cache: "none", iothread: false };
    const { spec } = buildClusterSpec(raw);
    assert.deepStrictEqual(spec.disk, { cache: "none", iothread: false });
  });

  it("rejects unknown keys, naming the node and the key", () => {
    assert.deepStrictEqual(
      problemsOf((r) => {
        r.nodes["k3s-vm-pve"].vmId = 105;
        r.cluster.sysctls = {};
      }),
      ["cluster: unknown key `sysctls`", "node `k3s-vm-pve`: unknown key `vmId`"],
    );
  });

  it("applyPendingChanges: off by default, accepted as a boolean per node, rejected otherwise", () => {
    assert.deepStrictEqual(
      buildClusterSpec(validRaw()).spec.nodes.map((n) => n.applyPendingChanges),
      [false, false, false],
    );
    const raw = validRaw();
    raw.nodes["k3s-vm-fawn"].applyPendingChanges = true;
    assert.deepStrictEqual(
      buildClusterSpec(raw).spec.nodes.map((n) => [n.name, n.applyPendingChanges]),
      [
        ["k3s-vm-pve", false],
        ["k3s-vm-piglet", false],
        ["k3s-vm-fawn", true],
      ],
    );
    assert.deepStrictEqual(
      problemsOf((r) => {
        r.nodes["k3s-vm-pve"].applyPendingChanges = "yes";
      }),
      [
        "node `k3s-vm-pve`, `applyPendingChanges`: Invalid input: expected boolean, received string",
      ],
    );
  });

  it("reports a missing required field", () => {
    assert.deepStrictEqual(
      problemsOf((r) => delete r.nodes["k3s-vm-fawn"].hostKey),
      ["node `k3s-vm-fawn`, `hostKey`: is required"],
    );
  });

  it("requires the +k3sN revision in versions", () => {
    assert.deepStrictEqual(
      problemsOf((r) => {
        r.cluster.k3sVersion = "v1.33.6";
        r.nodes["k3s-vm-pve"].k3sVersion = "1.33.6+k3s1";
      }),
      [
        "cluster, `k3sVersion`: must look like `v1.33.6+k3s1` (the `+k3sN` revision is required)",
        "node `k3s-vm-pve`, `k3sVersion`: must look like `v1.33.6+k3s1` (the `+k3sN` revision is required)",
      ],
    );
  });

  it("rejects a node on an undeclared host", () => {
    assert.deepStrictEqual(
      problemsOf((r) => (r.nodes["k3s-vm-fawn"].host = "still-fawn")),
      [
        "node `k3s-vm-fawn`, `host`: no Proxmox host `still-fawn` in `hosts` (declared: pve, piglet, fawn)",
      ],
    );
  });

  it("accepts the same VMID on different hosts, rejects it twice on one host", () => {
    assert.deepStrictEqual(
      problemsOf((r) => (r.nodes["k3s-vm-piglet"].vmid = 105)),
      [],
    );
    assert.deepStrictEqual(
      problemsOf((r) => {
        r.nodes["k3s-vm-piglet"].vmid = 105;
        r.nodes["k3s-vm-piglet"].host = "pve";
      }),
      ["node `k3s-vm-piglet`, `vmid`: 105 is already used by node `k3s-vm-pve` on host `pve`"],
    );
  });

  it("rejects two machines behind one SSH address and port, naming both", () => {
    assert.deepStrictEqual(
      problemsOf((r) => {
        r.nodes["k3s-vm-fawn"].address = "10.0.0.22";
        r.nodes["k3s-vm-pve"].address = "10.0.0.11";
        r.hosts.piglet.address = "10.0.0.11";
      }),
      [
        "host `piglet`, `address`: `10.0.0.11` port 22 is already the SSH endpoint of host `pve`",
        "node `k3s-vm-pve`, `address`: `10.0.0.11` port 22 is already the SSH endpoint of host `pve`",
        "node `k3s-vm-fawn`, `address`: `10.0.0.22` port 22 is already the SSH endpoint of node `k3s-vm-piglet`",
      ],
    );
  });

  it("compares host names without case and a written port 22 with the default", () => {
    assert.deepStrictEqual(
      problemsOf((r) => {
        r.nodes["k3s-vm-piglet"].address = "K3s-VM.maas";
        r.nodes["k3s-vm-fawn"].address = "k3s-vm.maas";
        r.nodes["k3s-vm-fawn"].port = 22;
      }),
      [
        "node `k3s-vm-fawn`, `address`: `k3s-vm.maas` port 22 is already the SSH endpoint of node `k3s-vm-piglet`",
      ],
    );
  });

  it("accepts one address on different SSH ports", () => {
    assert.deepStrictEqual(
      problemsOf((r) => {
        r.nodes["k3s-vm-fawn"].address = "10.0.0.22";
        r.nodes["k3s-vm-fawn"].port = 2222;
        r.nodes["k3s-vm-pve"].address = "10.0.0.11";
        r.nodes["k3s-vm-pve"].port = 2200;
      }),
      [],
    );
  });

  it("rejects names that cannot be resource or node names", () => {
    assert.deepStrictEqual(
      problemsOf((r) => {
        r.nodes["K3s_VM"] = r.nodes["k3s-vm-fawn"];
        delete r.nodes["k3s-vm-fawn"];
      }),
      [
        "node `K3s_VM`: bad name: must start with a letter and hold only lower-case letters, digits and `-` (at most 63)",
      ],
    );
  });

  it("rejects two nodes with one Kubernetes node name", () => {
    assert.deepStrictEqual(
      problemsOf((r) => (r.nodes["k3s-vm-fawn"].nodeName = "k3s-vm-pve")),
      [
        "node `k3s-vm-fawn`, `nodeName`: `k3s-vm-pve` is already the Kubernetes name of node `k3s-vm-pve`",
      ],
    );
  });

  it("requires at least one server", () => {
    assert.deepStrictEqual(
      problemsOf((r) => Object.values(r.nodes).forEach((n) => (n.role = "agent"))),
      ["cluster: no node has `role: server`; K3s needs at least one server"],
    );
  });

  it("accepts Proxmox disk interface names and rejects others", () => {
    assert.deepStrictEqual(
      problemsOf((r) => (r.nodes["k3s-vm-pve"].disk = "virtio0")),
      [],
    );
    assert.deepStrictEqual(
      problemsOf((r) => (r.nodes["k3s-vm-pve"].disk = "nvme0")),
      [
        "node `k3s-vm-pve`, `disk`: must be a Proxmox disk interface such as `scsi0`, `virtio0`, `sata0` or `ide0`",
      ],
    );
  });

  it("rejects iothread on a sata or ide disk, accepts it there without iothread", () => {
    assert.deepStrictEqual(
      problemsOf((r) => (r.nodes["k3s-vm-pve"].disk = "sata0")),
      [
        "node `k3s-vm-pve`, `disk`: sata0 cannot have iothread=1 (only virtio-blk, or SCSI with virtio-scsi-single); move etcd to a scsi or virtio disk, or set `cluster.disk.iothread: false`",
      ],
    );
    assert.deepStrictEqual(
      problemsOf((r) => {
        r.nodes["k3s-vm-pve"].disk = "ide1";
        r.cluster.disk = { iothread: false };
      }),
      [],
    );
  });

  it("accepts well-formed sysctl keys and values, rejects malformed ones", () => {
    const raw = validRaw();
    raw.cluster.sysctl = { "vm.swappiness": 10, "net.ipv4.ip_local_port_range": "1024 65000" };
    assert.deepStrictEqual(buildClusterSpec(raw).spec.sysctl, {
      "vm.swappiness": "10",
      "net.ipv4.ip_local_port_range": "1024 65000",
    });
    assert.deepStrictEqual(
      problemsOf((r) => (r.cluster.sysctl = { swappiness: 10, "vm.dirty_ratio": "5; reboot" })),
      [
        "cluster, `sysctl.swappiness`: bad name: sysctl keys look like `vm.swappiness`",
        "cluster, `sysctl.vm.dirty_ratio`: must be a number or words separated by single spaces",
      ],
    );
  });

  it("lays a node's own sysctl keys over the cluster's", () => {
    const raw = validRaw();
    raw.nodes["k3s-vm-fawn"].sysctl = { "vm.swappiness": 1, "vm.max_map_count": 262144 };
    const fawn = buildClusterSpec(raw).spec.nodes.find((n) => n.name === "k3s-vm-fawn")!;
    assert.deepStrictEqual(fawn.sysctl, {
      "vm.swappiness": "1",
      "vm.dirty_ratio": "5",
      "vm.dirty_background_ratio": "3",
      "vm.max_map_count": "262144",
    });
    assert.deepStrictEqual(
      problemsOf((r) => (r.nodes["k3s-vm-fawn"].sysctl = { "vm.swappiness": "10;reboot" })),
      [
        "node `k3s-vm-fawn`, `sysctl.vm.swappiness`: must be a number or words separated by single spaces",
      ],
    );
  });

  it("never accepts cache=unsafe", () => {
    assert.deepStrictEqual(
      problemsOf((r) => (r.cluster.disk = { cache: "unsafe" })),
      [
        "cluster, `disk.cache`: must be one of none, writethrough, writeback, directsync (`unsafe` ignores guest flushes: etcd loses data when the host crashes)",
      ],
    );
  });

  it("warns on a one-minor node override and rejects two minors", () => {
    assert.deepStrictEqual(
      warningsOf((r) => (r.nodes["k3s-vm-fawn"].k3sVersion = "v1.32.9+k3s1")),
      [
        "node `k3s-vm-fawn`, `k3sVersion`: v1.32.9+k3s1 is one minor from the cluster's v1.33.6+k3s1: allowed while a staged upgrade runs, finish it soon",
      ],
    );
    assert.deepStrictEqual(
      problemsOf((r) => (r.nodes["k3s-vm-fawn"].k3sVersion = "v1.31.4+k3s1")),
      [
        "node `k3s-vm-fawn`, `k3sVersion`: v1.31.4+k3s1 is more than one minor from the cluster's v1.33.6+k3s1; K3s allows at most one minor of skew, and never skipping a minor",
      ],
    );
  });

  it("rejects a server behind an agent, accepts an agent behind the servers", () => {
    const withAgent = (r: Raw, agentVersion: string) => {
      delete r.cluster.rollOrder;
      r.nodes["k3s-agent-1"] = {
        ...r.nodes["k3s-vm-fawn"],
        vmid: 120,
        address: "10.0.0.31",
        nodeName: undefined,
        role: "agent",
        k3sVersion: agentVersion,
      };
    };
    assert.deepStrictEqual(
      problemsOf((r) => withAgent(r, "v1.33.5+k3s1")),
      [],
    );
    assert.deepStrictEqual(
      problemsOf((r) => {
        withAgent(r, "v1.33.6+k3s2");
      }),
      [
        "node `k3s-agent-1`, `k3sVersion`: agent would run v1.33.6+k3s2 but server `k3s-vm-pve` runs v1.33.6+k3s1: servers must never be behind agents",
      ],
    );
  });

  it("keeps must-match keys out of a node's config", () => {
    assert.deepStrictEqual(
      problemsOf(
        (r) => (r.nodes["k3s-vm-fawn"].config = { "node-ip": "10.0.0.23", disable: ["traefik"] }),
      ),
      [
        "node `k3s-vm-fawn`, `config.disable`: must be identical on every server; set it in `cluster.serverConfig`",
      ],
    );
  });

  it("keeps managed and node-local keys out of serverConfig and managed keys out of nodes", () => {
    assert.deepStrictEqual(
      problemsOf((r) => {
        r.cluster.serverConfig = {
          token: "x",
          "node-ip": "10.0.0.21",
          "cluster-cidr": "10.42.0.0/16",
        };
        r.nodes["k3s-vm-pve"].config = { server: "https://10.0.0.22:6443" };
      }),
      [
        "cluster, `serverConfig.token`: written by this program from the secret `k3s-homelab:token`; remove it",
        "cluster, `serverConfig.node-ip`: identifies one machine; set it in that node's `config`",
        "node `k3s-vm-pve`, `config.server`: written by this program from `cluster.registrationAddress`; remove it",
      ],
    );
  });

  it("warns about one, two and four servers and a majority on one host", () => {
    assert.deepStrictEqual(
      warningsOf((r) => {
        delete r.nodes["k3s-vm-piglet"];
        delete r.nodes["k3s-vm-fawn"];
        delete r.cluster.rollOrder;
      }),
      [
        "cluster: only 1 server (`k3s-vm-pve`): every restart of it is an outage of the API and etcd",
      ],
    );
    assert.deepStrictEqual(
      warningsOf((r) => {
        delete r.nodes["k3s-vm-fawn"];
        delete r.cluster.rollOrder;
      }),
      [
        "cluster: 2 servers: any server restart loses etcd quorum; run 3 (the roll refuses 2 servers without an override)",
      ],
    );
    assert.deepStrictEqual(
      warningsOf((r) => {
        r.nodes["k3s-vm-four"] = { ...r.nodes["k3s-vm-fawn"], vmid: 109, address: "10.0.0.24" };
        delete r.cluster.rollOrder;
      }),
      ["cluster: 4 servers is an even count: it tolerates no more failures than 3"],
    );
    assert.deepStrictEqual(
      warningsOf((r) => (r.nodes["k3s-vm-piglet"].host = "pve")),
      ["cluster: 2 of 3 servers run on host `pve`: losing that host loses etcd quorum"],
    );
  });

  it("orders nodes by cluster.rollOrder, else alphabetically", () => {
    assert.deepStrictEqual(
      buildClusterSpec(validRaw()).spec.nodes.map((n) => n.name),
      ["k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn"],
    );
    const raw = validRaw();
    delete raw.cluster.rollOrder;
    assert.deepStrictEqual(
      buildClusterSpec(raw).spec.nodes.map((n) => n.name),
      ["k3s-vm-fawn", "k3s-vm-piglet", "k3s-vm-pve"],
    );
  });

  it("hands sysctl maps over in key order, whatever order the defaults or the stack use", () => {
    const raw = validRaw();
    raw.cluster.sysctl = { "vm.swappiness": "10", "vm.dirty_ratio": "5" };
    raw.nodes["k3s-vm-fawn"].sysctl = { "net.core.somaxconn": "1024" };
    const fawn = buildClusterSpec(raw).spec.nodes.find((n) => n.name === "k3s-vm-fawn")!;
    assert.deepStrictEqual(Object.keys(fawn.sysctl), [
      "net.core.somaxconn",
      "vm.dirty_ratio",
      "vm.swappiness",
    ]);
  });

  it("drain is off by default; turned on, its timeout defaults to 300 s", () => {
    assert.deepStrictEqual(buildClusterSpec(validRaw()).spec.roll, {
      allowTwoServers: false,
      allowAgentMinorSkip: false,
      repair: false,
      drain: false,
      drainTimeoutSeconds: 300,
      keepSnapshots: 5,
      maxFsyncP99Ms: 100,
      agentBatch: 1,
    });
    const raw = validRaw();
    raw.cluster.roll = { drain: true };
    assert.strictEqual(buildClusterSpec(raw).spec.roll.drain, true);
    assert.strictEqual(buildClusterSpec(raw).spec.roll.drainTimeoutSeconds, 300);
  });

  it("rejects a drain timeout under 10 s and an unknown roll key", () => {
    const problems = problemsOf((r) => (r.cluster.roll = { drainTimeoutSeconds: 5, cordon: true }));
    assert.strictEqual(problems.length, 2, problems.join("\n"));
    assert.match(problems.join("\n"), /`roll\.drainTimeoutSeconds`/);
    assert.match(problems.join("\n"), /cordon/);
  });

  it("refuses a non-root SSH login (no sudo support yet), for the cluster and for a host", () => {
    const problems = problemsOf((r) => {
      r.cluster.ssh = { user: "ubuntu" };
      r.hosts.pve.user = "admin";
    });
    assert.deepStrictEqual(
      problems.map((p) => p.split(" is not root")[0]),
      ["cluster, `ssh.user`: `ubuntu`", "host `pve`, `user`: `admin`"],
    );
    assert.match(problems[0], /log in as root with a key/);
    assert.deepStrictEqual(
      problemsOf((r) => (r.cluster.ssh = { user: "root" })),
      [],
    );
  });

  it("keeps five snapshots by default and accepts another count, never 0", () => {
    const raw = validRaw();
    raw.cluster.roll = { keepSnapshots: 2 };
    assert.strictEqual(buildClusterSpec(raw).spec.roll.keepSnapshots, 2);
    const problems = problemsOf((r) => (r.cluster.roll = { keepSnapshots: 0 }));
    assert.strictEqual(problems.length, 1, problems.join("\n"));
    assert.match(problems[0], /`roll\.keepSnapshots`/);
  });

  it("holds a server's roll above the doctor's fail threshold by default; 1..8192 ms accepted", () => {
    assert.strictEqual(buildClusterSpec(validRaw()).spec.roll.maxFsyncP99Ms, WAL_FSYNC_P99_FAIL_MS);
    assert.strictEqual(THRESHOLDS.walFsyncP99FailMs, WAL_FSYNC_P99_FAIL_MS);
    const raw = validRaw();
    raw.cluster.roll = { maxFsyncP99Ms: 40 };
    assert.strictEqual(buildClusterSpec(raw).spec.roll.maxFsyncP99Ms, 40);
    for (const bad of [0, 8193, 12.5, "100ms"]) {
      const problems = problemsOf((r) => (r.cluster.roll = { maxFsyncP99Ms: bad }));
      assert.strictEqual(problems.length, 1, `${bad}: ${problems.join("\n")}`);
      assert.match(problems[0], /^cluster, `roll\.maxFsyncP99Ms`: /, String(bad));
    }
  });

  it("rejects a rollOrder that does not list every node exactly once", () => {
    assert.deepStrictEqual(
      problemsOf((r) => (r.cluster.rollOrder = ["k3s-vm-pve", "k3s-vm-pve", "k3s-vm-fwan"])),
      [
        "cluster, `rollOrder`: `k3s-vm-pve` is listed twice",
        "cluster, `rollOrder`: `k3s-vm-fwan` is not a node",
        "cluster, `rollOrder`: must list every node; missing `k3s-vm-piglet`, `k3s-vm-fawn`",
      ],
    );
  });

  it("warns (for validate) when the listed order is not the order the roll follows", () => {
    const raw = validRaw();
    assert.strictEqual(listedOrderWarning(raw), undefined);
    delete raw.cluster.rollOrder;
    assert.strictEqual(
      listedOrderWarning(raw),
      "cluster, `rollOrder`: not set, so nodes roll in alphabetical order (k3s-vm-fawn, k3s-vm-piglet, k3s-vm-pve), not in the order listed; Pulumi does not keep the order of config keys",
    );
  });
});

describe("config: the stack's top-level keys", () => {
  it("names a missing structured key", () => {
    assert.throws(
      () => buildClusterSpec({ cluster: validRaw().cluster, hosts: validRaw().hosts }),
      (error: ConfigError) => {
        assert.deepStrictEqual(error.problems, ["stack config: `k3s-homelab:nodes` is not set"]);
        return true;
      },
    );
  });
});
