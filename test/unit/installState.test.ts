import * as assert from "assert";
import { buildClusterSpec, NodeSpec } from "../../config";
import { checkInstallState, parseFlags } from "../../plan";
import { NodeObservation } from "../../probe/observations";
import { renderK3sConfig } from "../../render";
import { validRaw } from "./fixtures";

function pve(config: Record<string, unknown> = {}): NodeSpec {
  const raw = validRaw();
  raw.nodes["k3s-vm-pve"].config = config;
  return buildClusterSpec(raw).spec.nodes.find((n) => n.name === "k3s-vm-pve")!;
}

function desired(node: NodeSpec, hasAgentToken = false): string {
  return renderK3sConfig({
    role: node.role,
    registrationAddress: "https://10.0.0.21:6443",
    serverConfig: { disable: ["traefik"] },
    nodeConfig: node.config,
    hasAgentToken,
  });
}

/** A node that runs an older K3s (so the roll re-runs the installer) with these extras. */
function seen(extra: Partial<NodeObservation>): NodeObservation {
  return { installedVersion: "v1.33.5+k3s1", configYaml: "", sysctl: {}, sysctlFile: "", ...extra };
}

describe("install-time flags, env and config.yaml.d drop-ins", () => {
  it("parses ExecStart flags as K3s does: =, a separate value, booleans, aliases", () => {
    assert.deepStrictEqual(
      parseFlags(["server", "--cluster-init", "--node-ip", "10.0.0.5", "-d=/data", "--tls-san=a"]),
      [
        ["cluster-init", "true"],
        ["node-ip", "10.0.0.5"],
        ["data-dir", "/data"],
        ["tls-san", "a"],
      ],
    );
  });

  it("refuses a flag the stack does not carry, naming the node, the flag and the fix", () => {
    const node = pve();
    const verdict = checkInstallState(
      node,
      seen({ execStart: ["server", "--node-ip=10.0.0.5", "--tls-san=a", "--tls-san=b"] }),
      desired(node),
    );
    assert.deepStrictEqual(verdict.errors, [
      "node `k3s-vm-pve`: installed with `--node-ip=10.0.0.5` (k3s.service ExecStart); re-running the installer drops it: add `node-ip: 10.0.0.5` to the node's `config` in the stack",
      "node `k3s-vm-pve`: installed with `--tls-san=a`, `--tls-san=b` (k3s.service ExecStart); re-running the installer drops it: add `tls-san: [a, b]` to the node's `config` in the stack",
    ]);
  });

  it("accepts flags the stack carries (a single tls-san as text or list) and the ones it manages", () => {
    for (const tlsSan of ["a", ["a", "b"]]) {
      const node = pve({ "node-ip": "10.0.0.5", "tls-san": tlsSan });
      const verdict = checkInstallState(
        node,
        seen({ execStart: ["server", "--node-ip=10.0.0.5", "--tls-san=a", "--token=s3cret"] }),
        desired(node),
      );
      assert.deepStrictEqual(verdict.errors, []);
    }
  });

  it("refuses a flag whose value differs from the stack's, never printing a secret", () => {
    const node = pve({ "node-ip": "10.0.0.6" });
    const verdict = checkInstallState(
      node,
      seen({ execStart: ["server", "--node-ip=10.0.0.5", "--agent-token=s3cret"] }),
      desired(node),
    );
    assert.deepStrictEqual(verdict.errors, [
      "node `k3s-vm-pve`: installed with `--node-ip=10.0.0.5` (k3s.service ExecStart), but the stack's config.yaml has `node-ip: 10.0.0.6`; re-running the installer drops it and the node would change: set `node-ip: 10.0.0.5` in the node's `config` in the stack instead, or change the node by hand first",
      "node `k3s-vm-pve`: installed with `--agent-token=…` (k3s.service ExecStart); re-running the installer drops it: set the secret `k3s-homelab:agentToken` (the program then writes `agent-token-file`)",
    ]);
    assert.doesNotMatch(verdict.errors.join("\n"), /s3cret/);
  });

  it("says nothing of flags when the installer does not run again", () => {
    const node = pve();
    const verdict = checkInstallState(
      node,
      seen({ installedVersion: node.k3sVersion, execStart: ["server", "--node-ip=10.0.0.5"] }),
      desired(node),
    );
    assert.deepStrictEqual(verdict, { errors: [], warnings: [] });
  });

  it("carries proxies over (names only), refuses other K3S_* values, accepts the managed ones", () => {
    const node = pve();
    const verdict = checkInstallState(
      node,
      seen({
        unitEnv: [
          { name: "HTTP_PROXY" },
          { name: "no_proxy" },
          { name: "K3S_TOKEN" },
          { name: "K3S_URL", value: "https://10.0.0.21:6443" },
          { name: "K3S_NODE_NAME", value: "pve-1" },
          { name: "K3S_SOMETHING", value: "x" },
        ],
      }),
      desired(node),
    );
    assert.deepStrictEqual(verdict.errors, [
      "node `k3s-vm-pve`: installed with `K3S_NODE_NAME=pve-1` (k3s.service.env); re-running the installer drops it: add `node-name: pve-1` to the node's `config` in the stack",
      "node `k3s-vm-pve`: installed with `K3S_SOMETHING=x` (k3s.service.env); re-running the installer drops it: put the K3s flag it stands for into the node's `config` in the stack",
    ]);
    assert.deepStrictEqual(verdict.warnings, [
      "node `k3s-vm-pve`: k3s.service.env has HTTP_PROXY, no_proxy: the installer rewrites that file, so the prepare step hands them to it again",
    ]);
  });

  it("refuses a config.yaml.d drop-in that overrides a key the stack writes, naming the file", () => {
    const node = pve({ "node-ip": "10.0.0.5" });
    const verdict = checkInstallState(
      node,
      seen({
        installedVersion: node.k3sVersion,
        configDropins: [
          { path: "/etc/rancher/k3s/config.yaml.d/10-same.yaml", text: "node-ip: 10.0.0.5\n" },
          { path: "/etc/rancher/k3s/config.yaml.d/20-ip.yaml", text: "node-ip: 10.0.0.9\n" },
          { path: "/etc/rancher/k3s/config.yaml.d/30-more.yaml", text: "disable+: [servicelb]\n" },
          { path: "/etc/rancher/k3s/config.yaml.d/40-own.yaml", text: "node-label: [a=b]\n" },
        ],
      }),
      desired(node),
    );
    assert.deepStrictEqual(verdict.errors, [
      "node `k3s-vm-pve`: /etc/rancher/k3s/config.yaml.d/20-ip.yaml sets `node-ip`, which the stack writes in config.yaml; K3s reads config.yaml.d after config.yaml, so the drop-in wins: remove `node-ip` from that file or make the stack's value match it",
      "node `k3s-vm-pve`: /etc/rancher/k3s/config.yaml.d/30-more.yaml sets `disable+`, which the stack writes in config.yaml; K3s reads config.yaml.d after config.yaml, so the drop-in wins: remove `disable+` from that file or make the stack's value match it",
    ]);
  });
});
