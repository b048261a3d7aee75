import * as assert from "assert";
import { spawnSync } from "child_process";
import { readFileSync, writeFileSync, mkdtempSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { sortStackEntries } from "../../config";

const encrypted = (v: unknown) => typeof v === "object" && v !== null && "secure" in v;

describe("config: sortStackEntries", () => {
  it("takes the structured keys and accepts encrypted secrets", () => {
    const entries = sortStackEntries(
      {
        "k3s-homelab:cluster": { k3sVersion: "v1.33.6+k3s1" },
        "k3s-homelab:hosts": '{"pve":{}}',
        "k3s-homelab:nodes": {},
        "k3s-homelab:sshPrivateKey": { secure: "v1:abc" },
        "k3s-homelab:token": { secure: "v1:def" },
        "aws:region": "eu-west-1",
      },
      encrypted,
    );
    assert.deepStrictEqual(entries.structured, {
      cluster: { k3sVersion: "v1.33.6+k3s1" },
      hosts: { pve: {} },
      nodes: {},
    });
    assert.deepStrictEqual(entries.problems, []);
    assert.deepStrictEqual(entries.missingSecrets, []);
  });

  it("rejects unknown keys and plain-text secrets, lists missing secrets", () => {
    const entries = sortStackEntries(
      { "k3s-homelab:nodess": {}, "k3s-homelab:token": "K10abc::server:xyz" },
      encrypted,
    );
    assert.deepStrictEqual(entries.problems, [
      "stack config: unknown key `k3s-homelab:nodess` (known: cluster, hosts, nodes, sshPrivateKey, token, agentToken)",
      "stack config: `k3s-homelab:token` is stored in plain text; set it with `pulumi config set --secret token`",
    ]);
    assert.deepStrictEqual(entries.missingSecrets, ["sshPrivateKey"]);
  });
});

describe("npm run validate", function () {
  this.timeout(60000);
  const run = (file: string) =>
    spawnSync("npx", ["ts-node", "--transpile-only", "scripts/validate.ts", file], {
      cwd: join(__dirname, "..", ".."),
      encoding: "utf8",
    });

  it("accepts the shipped example with a one-line summary", () => {
    const result = run("Pulumi.homelab.yaml");
    assert.strictEqual(result.status, 0, result.stdout + result.stderr);
    assert.strictEqual(
      result.stdout,
      "Pulumi.homelab.yaml: valid: 3 nodes (3 servers, 0 agents) on 3 Proxmox hosts, K3s v1.33.6+k3s1, 0 warnings\n",
    );
  });

  it("rejects a copy of the example with a word for a kernel integer and two nodes on one address", () => {
    const dir = mkdtempSync(join(tmpdir(), "k3s-homelab-validate-"));
    const file = join(dir, "Pulumi.homelab.yaml");
    const example = readFileSync(join(__dirname, "..", "..", "Pulumi.homelab.yaml"), "utf8");
    const broken = example
      .replace("      vm.swappiness: 10\n", "      vm.swappiness: ten\n")
      .replace(
        "      address: k3s-vm-fawn.maas\n",
        "      address: k3s-vm-piglet.maas\n      sysctl:\n        vm.dirty_ratio: 500\n",
      );
    assert.notStrictEqual(broken, example);
    writeFileSync(file, broken);
    const result = run(file);
    assert.strictEqual(result.status, 1, result.stdout + result.stderr);
    assert.strictEqual(
      result.stdout,
      [
        `${file}: node \`k3s-vm-fawn\`, \`address\`: \`k3s-vm-piglet.maas\` port 22 is already the SSH endpoint of node \`k3s-vm-piglet\``,
        `${file}: cluster, \`sysctl.vm.swappiness\`: \`ten\` is not an integer (the kernel's proc_dointvec_minmax accepts 0..200)`,
        `${file}: node \`k3s-vm-fawn\`, \`sysctl.vm.dirty_ratio\`: \`500\` is out of range (the kernel's proc_dointvec_minmax accepts 0..100)`,
        "",
      ].join("\n"),
    );
  });

  it("rejects a broken copy with one line per problem and exit 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "k3s-homelab-validate-"));
    const file = join(dir, "Pulumi.broken.yaml");
    writeFileSync(
      file,
      [
        "config:",
        "  k3s-homelab:cluster:",
        "    k3sVersion: v1.33.6",
        "    registrationAddress: https://10.0.0.21:6443",
        "  k3s-homelab:hosts:",
        "    pve: { address: 10.0.0.11, hostKey: ssh-ed25519 AAAA, colour: red }",
        "  k3s-homelab:nodes:",
        "    k3s-vm-pve: { host: pve, vmid: 105, disk: scsi0, address: 10.0.0.21, role: server, hostKey: ssh-ed25519 AAAB }",
        "  k3s-homelab:token: plain-text-token",
        "",
      ].join("\n"),
    );
    const result = run(file);
    assert.strictEqual(result.status, 1);
    assert.strictEqual(
      result.stdout,
      [
        `${file}: stack config: \`k3s-homelab:token\` is stored in plain text; set it with \`pulumi config set --secret token\``,
        `${file}: cluster, \`k3sVersion\`: must look like \`v1.33.6+k3s1\` (the \`+k3sN\` revision is required)`,
        `${file}: host \`pve\`: unknown key \`colour\``,
        "",
      ].join("\n"),
    );
  });
});
