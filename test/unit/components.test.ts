import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import type { HomelabCluster as HomelabClusterType } from "../../components";
import { buildClusterSpec } from "../../config";
import { validRaw } from "./fixtures";

interface Registration {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}
interface Transformed {
  readonly resource: pulumi.Resource;
  readonly type: string;
  readonly name: string;
  readonly props: Record<string, unknown>;
  readonly opts: pulumi.CustomResourceOptions;
}

const registrations: Registration[] = [];

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

async function buildCluster(
  raw = validRaw(),
  withAgentToken = false,
  repair?: Record<string, string>,
) {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registrations.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: { ...args.inputs, stdout: "", stderr: "" } };
      },
      call: (args) => {
        throw new Error(`unexpected call ${args.token}`);
      },
    },
    "k3s-homelab",
    "test",
    false,
  );
  registrations.length = 0;
  const transformed: Transformed[] = [];
  const { HomelabCluster } = await import("../../components");
  const secret = (value: string) => pulumi.secret(value);
  const cluster: HomelabClusterType = new HomelabCluster(
    "homelab",
    {
      spec: buildClusterSpec(raw).spec,
      secrets: {
        sshPrivateKey: secret("PRIVATE KEY"),
        token: secret("cluster-token"),
        agentToken: withAgentToken ? secret("agent-token") : undefined,
      },
      repair,
    },
    {
      transformations: [
        (a) => {
          transformed.push({
            resource: a.resource,
            type: a.type,
            name: a.name,
            props: a.props,
            opts: a.opts,
          });
          return undefined;
        },
      ],
    },
  );
  // Every command's id resolves once the mock has registered it.
  const ids = transformed.filter((t) => t.type === "command:remote:Command").length;
  await promiseOf(pulumi.all(Object.values(cluster.nodes).map((n) => n.gate.id)));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.strictEqual(registrations.filter((r) => r.type === "command:remote:Command").length, ids);
  return { cluster, transformed };
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Mock inputs carry secrets as signed wrappers: this says whether a value was secret. */
function unwrap(value: unknown): { secret: boolean; value: unknown } {
  if (typeof value === "object" && value !== null && SECRET_SIG in value) {
    return { secret: true, value: (value as unknown as { value: unknown }).value };
  }
  return { secret: false, value };
}

function connectionOf(r: Registration): Record<string, unknown> {
  const { secret, value } = unwrap(r.inputs.connection);
  assert.ok(secret, `${r.name}: connection is not secret`);
  return value as Record<string, unknown>;
}

const commands = (rs: Registration[]) => rs.filter((r) => r.type === "command:remote:Command");
const byName = (rs: Registration[], name: string) => {
  const found = rs.find((r) => r.name === name);
  assert.ok(found, `no resource named ${name}`);
  return found;
};

describe("components under mocks", () => {
  it("registers one host, one sysctl and one roll of six steps per node, and two fsync gates per server", async () => {
    await buildCluster();
    const count = (type: string) => registrations.filter((r) => r.type === type).length;
    assert.strictEqual(count("homelab:proxmox:ProxmoxHost"), 3);
    assert.strictEqual(count("homelab:guest:GuestSysctl"), 3);
    assert.strictEqual(count("homelab:k3s:K3sNode"), 3);
    assert.strictEqual(commands(registrations).length, 3 + 3 + 3 * 6 + 3 * 2);
    assert.deepStrictEqual(
      commands(registrations)
        .filter((r) => r.name.startsWith("k3s-vm-fawn-"))
        .map((r) => r.name)
        .sort(),
      [
        "k3s-vm-fawn-check",
        "k3s-vm-fawn-disk",
        "k3s-vm-fawn-fsync-k3s-vm-piglet",
        "k3s-vm-fawn-fsync-k3s-vm-pve",
        "k3s-vm-fawn-gate",
        "k3s-vm-fawn-prepare",
        "k3s-vm-fawn-restart",
        "k3s-vm-fawn-sysctl-apply",
        "k3s-vm-fawn-token",
      ],
    );
  });

  it("tunes a Proxmox host once however many nodes it runs", async () => {
    const raw = validRaw();
    raw.nodes["k3s-vm-piglet"].host = "pve";
    delete raw.hosts.piglet;
    await buildCluster(raw);
    assert.deepStrictEqual(
      registrations.filter((r) => r.type === "homelab:proxmox:ProxmoxHost").map((r) => r.name),
      ["pve", "fawn"],
    );
  });

  it("every command pins the host key, never uses environment and never passes old output", async () => {
    await buildCluster();
    for (const command of commands(registrations)) {
      const connection = connectionOf(command);
      assert.match(String(connection.hostKey), /^ssh-ed25519 /, command.name);
      assert.strictEqual(command.inputs.addPreviousOutputInEnv, false, command.name);
      assert.ok(!("environment" in command.inputs), `${command.name} sets environment`);
    }
    assert.strictEqual(connectionOf(byName(registrations, "pve-zfs-txg")).host, "10.0.0.11");
  });

  it("passes tokens only on stdin, with logging off, and keeps them out of script text", async () => {
    const { transformed } = await buildCluster(validRaw(), true);
    const token = byName(registrations, "k3s-vm-pve-token");
    assert.strictEqual(token.inputs.logging, "none");
    assert.deepStrictEqual(unwrap(token.inputs.stdin), {
      secret: true,
      value: "cluster-token\nagent-token\n",
    });
    for (const command of commands(registrations)) {
      for (const field of ["create", "delete"]) {
        assert.ok(
          !String(command.inputs[field] ?? "").includes("cluster-token"),
          `${command.name}.${field}`,
        );
      }
      if (command.name.endsWith("-token")) continue;
      assert.ok(!("stdin" in command.inputs), `${command.name} has stdin`);
    }
    const tokenProps = transformed.find((t) => t.name === "k3s-vm-pve-token")!.props;
    assert.strictEqual(await pulumi.isSecret(tokenProps.stdin as pulumi.Output<string>), true);
    const opts = transformed.find((t) => t.name === "k3s-vm-pve-token")!.opts;
    for (const output of ["stdout", "stderr"])
      assert.ok(opts.additionalSecretOutputs?.includes(output), output);
    for (const t of transformed.filter((x) => x.type === "command:remote:Command")) {
      const connection = t.props.connection as Record<string, pulumi.Output<string>>;
      assert.strictEqual(await pulumi.isSecret(connection.privateKey), true, t.name);
    }
  });

  it("file-owning steps delete before replace and remove only their own file", async () => {
    const { transformed } = await buildCluster();
    for (const name of ["k3s-vm-pve-sysctl-apply", "pve-zfs-txg"]) {
      assert.strictEqual(
        transformed.find((t) => t.name === name)!.opts.deleteBeforeReplace,
        true,
        name,
      );
      assert.match(String(byName(registrations, name).inputs.delete), /sha256sum/);
    }
    for (const step of ["prepare", "disk", "token"]) {
      const text = String(byName(registrations, `k3s-vm-pve-${step}`).inputs.delete);
      assert.match(text, /destroy leaves/);
      assert.doesNotMatch(text, /\brm |qm |systemctl|uninstall/);
    }
    for (const step of ["check", "restart", "gate"]) {
      assert.ok(!("delete" in byName(registrations, `k3s-vm-pve-${step}`).inputs));
    }
  });

  it("parents every child on its component", async () => {
    const { cluster, transformed } = await buildCluster();
    const parentOf = (name: string) => transformed.find((t) => t.name === name)!.opts.parent;
    assert.strictEqual(parentOf("k3s-vm-fawn-disk"), cluster.nodes["k3s-vm-fawn"]);
    assert.strictEqual(parentOf("k3s-vm-fawn-sysctl-apply"), cluster.sysctl["k3s-vm-fawn"]);
    assert.strictEqual(parentOf("fawn-zfs-txg"), cluster.hosts.fawn);
    assert.strictEqual(parentOf("k3s-vm-fawn"), cluster);
  });

  it("chains each node's steps and starts a node's roll only after the previous node's gate", async () => {
    const raw = validRaw();
    raw.nodes = {
      "agent-1": { ...raw.nodes["k3s-vm-fawn"], vmid: 120, role: "agent", address: "10.0.0.31" },
      ...raw.nodes,
    };
    raw.cluster.rollOrder = ["k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn", "agent-1"];
    const { cluster, transformed } = await buildCluster(raw);
    const dependsOn = (name: string) =>
      (transformed.find((t) => t.name === name)!.opts.dependsOn as pulumi.Resource[] | undefined) ??
      [];
    const node = (name: string) => cluster.nodes[name];
    assert.deepStrictEqual(dependsOn("k3s-vm-pve-check"), []);
    assert.deepStrictEqual(dependsOn("k3s-vm-piglet-check"), [node("k3s-vm-pve").gate]);
    assert.deepStrictEqual(dependsOn("k3s-vm-fawn-check"), [node("k3s-vm-piglet").gate]);
    assert.deepStrictEqual(dependsOn("agent-1-check"), [node("k3s-vm-fawn").gate]);
    assert.strictEqual(dependsOn("k3s-vm-fawn-token").length, 2, "both fsync gates");
    assert.strictEqual(dependsOn("agent-1-token").length, 1, "the check only");
    const step = (n: string, s: string) => transformed.find((t) => t.name === `${n}-${s}`);
    assert.ok(step("k3s-vm-fawn", "gate"));
    assert.strictEqual(dependsOn("k3s-vm-fawn-prepare").length, 1);
    assert.strictEqual(dependsOn("k3s-vm-fawn-disk").length, 1);
    // Sysctl and ZFS disturb nothing: they wait for no roll.
    assert.deepStrictEqual(dependsOn("k3s-vm-fawn-sysctl-apply"), []);
    assert.deepStrictEqual(dependsOn("fawn-zfs-txg"), []);
    // The agent's check and gate ask the first server's API.
    assert.strictEqual(connectionOf(byName(registrations, "agent-1-check")).host, "10.0.0.21");
    assert.strictEqual(connectionOf(byName(registrations, "agent-1-gate")).host, "10.0.0.21");
  });

  it("with agentBatch 2, starts both agents of a batch after the last server's gate and the next batch after both their gates", async () => {
    const raw = validRaw();
    const agents = ["agent-1", "agent-2", "agent-3"];
    agents.forEach((name, i) => {
      raw.nodes[name] = {
        ...raw.nodes["k3s-vm-fawn"],
        vmid: 120 + i,
        role: "agent",
        address: `10.0.0.${31 + i}`,
        ...(name === "agent-2" ? { nodeName: "agent-2.lan" } : {}),
      };
    });
    raw.cluster.rollOrder = ["k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn", ...agents];
    raw.cluster.roll = { agentBatch: 2 };
    const { cluster, transformed } = await buildCluster(raw);
    const dependsOn = (name: string) =>
      (transformed.find((t) => t.name === name)!.opts.dependsOn as pulumi.Resource[] | undefined) ??
      [];
    const gate = (name: string) => cluster.nodes[name].gate;
    assert.deepStrictEqual(dependsOn("k3s-vm-piglet-check"), [gate("k3s-vm-pve")]);
    assert.deepStrictEqual(dependsOn("agent-1-check"), [gate("k3s-vm-fawn")]);
    assert.deepStrictEqual(dependsOn("agent-2-check"), [gate("k3s-vm-fawn")]);
    assert.deepStrictEqual(dependsOn("agent-3-check"), [gate("agent-1"), gate("agent-2")]);
    // Each check lets exactly its batch-mates (by Kubernetes node name) be down.
    const check = (name: string) => String(byName(registrations, `${name}-check`).inputs.create);
    assert.match(check("agent-1"), /^MATES=' agent-2\.lan '$/m);
    assert.match(check("agent-2"), /^MATES=' agent-1 '$/m);
    assert.doesNotMatch(check("agent-3"), /MATES=/);
    assert.doesNotMatch(check("k3s-vm-fawn"), /MATES=/);
  });

  it("reads every other server's etcd member on that server, after the check and before anything changes", async () => {
    const raw = validRaw();
    raw.nodes = {
      ...raw.nodes,
      "agent-1": { ...raw.nodes["k3s-vm-fawn"], vmid: 120, role: "agent", address: "10.0.0.31" },
    };
    raw.cluster.rollOrder = ["k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn", "agent-1"];
    raw.cluster.roll = { maxFsyncP99Ms: 50 };
    raw.cluster.gateTimeoutSeconds = 90;
    const { transformed } = await buildCluster(raw);
    const opts = (name: string) => transformed.find((t) => t.name === name)!.opts;
    const gates = commands(registrations).filter((r) => r.name.startsWith("k3s-vm-piglet-fsync-"));
    assert.deepStrictEqual(
      gates.map((r) => [r.name, connectionOf(r).host]),
      [
        ["k3s-vm-piglet-fsync-k3s-vm-pve", "10.0.0.21"],
        ["k3s-vm-piglet-fsync-k3s-vm-fawn", "10.0.0.23"],
      ],
    );
    const script = String(gates[1].inputs.create);
    assert.match(script, /^WHO='k3s-vm-piglet'$/m);
    assert.match(script, /^MEMBER='k3s-vm-fawn'$/m);
    assert.match(script, /^MAX=50$/m);
    assert.match(script, /\[ "\$elapsed" -lt 90 \]/);
    const check = transformed.find((t) => t.name === "k3s-vm-piglet-check")!.resource;
    for (const gate of gates) assert.deepStrictEqual(opts(gate.name).dependsOn, [check], gate.name);
    const fsyncGates = gates.map((g) => transformed.find((t) => t.name === g.name)!.resource);
    assert.deepStrictEqual(opts("k3s-vm-piglet-token").dependsOn, fsyncGates);
    assert.ok(!registrations.some((r) => r.name.startsWith("agent-1-fsync-")));
  });

  it("runs the disk step on the VM's Proxmox host and the other steps on the guest", async () => {
    await buildCluster();
    const host = (name: string) => connectionOf(byName(registrations, name)).host;
    assert.strictEqual(host("k3s-vm-fawn-disk"), "10.0.0.13");
    for (const step of ["check", "token", "prepare", "restart", "gate", "sysctl-apply"]) {
      assert.strictEqual(host(`k3s-vm-fawn-${step}`), "10.0.0.23", step);
    }
    assert.match(
      String(byName(registrations, "k3s-vm-fawn-disk").inputs.create),
      /VMID=108; DISK=scsi0; CACHE=writeback; IOTHREAD=1/,
    );
  });

  it("with drain on, checks the disk on the host and drains through the gate server between prepare and disk", async () => {
    const raw = validRaw();
    raw.cluster.roll = { drain: true, drainTimeoutSeconds: 120 };
    const { transformed } = await buildCluster(raw);
    const dependsOn = (name: string) =>
      transformed.find((t) => t.name === name)!.opts.dependsOn as pulumi.Resource[];
    const resource = (name: string) =>
      transformed.find((t) => t.name === name && t.type === "command:remote:Command")!;
    assert.strictEqual(
      connectionOf(byName(registrations, "k3s-vm-fawn-disk-check")).host,
      "10.0.0.13",
    );
    assert.strictEqual(connectionOf(byName(registrations, "k3s-vm-fawn-drain")).host, "10.0.0.23");
    assert.strictEqual(commands(registrations).length, 3 + 3 + 3 * 8 + 3 * 2);
    assert.deepStrictEqual(dependsOn("k3s-vm-fawn-disk-check").length, 1);
    assert.strictEqual(dependsOn("k3s-vm-fawn-disk").length, 1);
    assert.match(
      String(byName(registrations, "k3s-vm-fawn-drain").inputs.create),
      /--timeout=120s/,
    );
    // The drain reads what prepare and the disk check printed (empty under mocks).
    assert.strictEqual(byName(registrations, "k3s-vm-fawn-drain").inputs.stdin, "\n\n");
    assert.match(
      String(byName(registrations, "k3s-vm-fawn-prepare").inputs.create),
      /restart-follows k3s restart/,
    );
    assert.ok(resource("k3s-vm-fawn-drain"));
  });

  it("without drain, registers no drain step and the prepare step announces nothing", async () => {
    await buildCluster();
    assert.ok(
      !registrations.some((r) => r.name.endsWith("-drain") || r.name.endsWith("-disk-check")),
    );
    assert.doesNotMatch(
      String(byName(registrations, "k3s-vm-fawn-prepare").inputs.create),
      /restart-follows/,
    );
  });

  it("in repair mode, repairs every node first, one at a time, and the roll waits for the last repair", async () => {
    const { cluster, transformed } = await buildCluster(validRaw(), false, {
      "k3s-vm-piglet": "its etcd member is not healthy",
    });
    const opts = (name: string) => transformed.find((t) => t.name === name)!.opts;
    const dependsOn = (name: string) =>
      (opts(name).dependsOn as pulumi.Resource[] | undefined) ?? [];
    assert.strictEqual(registrations.filter((r) => r.type === "homelab:k3s:NodeRepair").length, 3);
    assert.deepStrictEqual(dependsOn("k3s-vm-pve-repair-restart"), []);
    assert.strictEqual(
      connectionOf(byName(registrations, "k3s-vm-piglet-repair-restart")).host,
      "10.0.0.22",
    );
    assert.match(
      String(byName(registrations, "k3s-vm-piglet-repair-restart").inputs.create),
      /# at preflight: its etcd member is not healthy/,
    );
    assert.match(
      String(byName(registrations, "k3s-vm-fawn-repair-restart").inputs.create),
      /# at preflight: healthy/,
    );
    assert.strictEqual(dependsOn("k3s-vm-pve-check").length, 1, "the roll waits for the repair");
    assert.strictEqual(dependsOn("k3s-vm-pve-check")[0], cluster.repairSteps["k3s-vm-fawn"].gate);
    assert.deepStrictEqual(dependsOn("k3s-vm-piglet-repair-restart"), [
      cluster.repairSteps["k3s-vm-pve"].gate,
    ]);
  });
});
