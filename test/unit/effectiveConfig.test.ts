import * as assert from "assert";
import { comparable, settingsAsRun, settingsThatChange, StackTokens } from "../../plan";
import { renderK3sConfig } from "../../render";

const TOKENS: StackTokens = { token: "the-cluster-token" };

/** config.yaml as the program writes it for a server of https://10.0.0.21:6443. */
function programYaml(nodeConfig: Record<string, string | boolean | string[]>, role = "server") {
  return renderK3sConfig({
    role: role as "server" | "agent",
    registrationAddress: "https://10.0.0.21:6443",
    serverConfig: {},
    nodeConfig,
    hasAgentToken: false,
  });
}

describe("effective K3s settings (k3s pkg/configfilearg, pkg/cli/server)", () => {
  it("a server installed with flags and a token in config.yaml runs what the program's file says", () => {
    // The post's k3s-vm-pve: `server --node-ip=... --tls-san=...` in ExecStart, its own file.
    const own = { execStart: ["server", "--node-ip=198.18.0.21", "--tls-san=k3s.lab.example"] };
    const running = "cluster-init: true\ntoken: the-cluster-token\n";
    const desired = programYaml({
      "cluster-init": true,
      "node-ip": "198.18.0.21",
      "tls-san": ["k3s.lab.example"],
    });
    assert.deepStrictEqual(settingsThatChange(own, running, desired, "server", TOKENS), []);
    // The flags stay in the unit: tls-san comes twice, once from the file and once from the flag.
    assert.deepStrictEqual(settingsAsRun(own, desired)["tls-san"], [
      "k3s.lab.example",
      "k3s.lab.example",
    ]);
  });

  it("the token: the program's token file holds the stack's secret, which wins over `token`", () => {
    const running = "server: https://10.0.0.21:6443\ntoken: K10abc::server:the-cluster-token\n";
    assert.deepStrictEqual(
      settingsThatChange({}, running, programYaml({}), "server", TOKENS),
      [],
      "the server's full token form carries the same password",
    );
    assert.deepStrictEqual(
      settingsThatChange({}, running, programYaml({}), "server", { token: "another" }),
      ["token"],
    );
    // A token only in the env file is not printed by the probe: it cannot be shown to be equal.
    const fromEnv = { unitEnv: [{ name: "K3S_TOKEN" }] };
    assert.deepStrictEqual(
      settingsThatChange(
        fromEnv,
        "server: https://10.0.0.21:6443\n",
        programYaml({}),
        "server",
        TOKENS,
      ),
      ["token"],
    );
    // Another token file: its content is unknown.
    const otherFile = "server: https://10.0.0.21:6443\ntoken-file: /root/token\n";
    assert.deepStrictEqual(settingsThatChange({}, otherFile, programYaml({}), "server", TOKENS), [
      "token",
    ]);
    // An agent's token file holds the agent token when the stack has one.
    const agent = "server: https://10.0.0.21:6443\ntoken: agent-secret\n";
    assert.deepStrictEqual(
      settingsThatChange({}, agent, programYaml({}, "agent"), "agent", {
        token: "the-cluster-token",
        agentToken: "agent-secret",
      }),
      [],
    );
  });

  it("a real difference counts: a dropped `disable`, a new server URL, a flag that overrides the file", () => {
    const piglet = "server: https://10.0.0.21:6443\ntoken: the-cluster-token\ndisable: [traefik]\n";
    assert.deepStrictEqual(settingsThatChange({}, piglet, programYaml({}), "server", TOKENS), [
      "disable",
    ]);
    const elsewhere = "server: https://10.0.0.99:6443\ntoken: the-cluster-token\n";
    assert.deepStrictEqual(settingsThatChange({}, elsewhere, programYaml({}), "server", TOKENS), [
      "server",
    ]);
    // The flag wins over both files, so the file's node-ip changes nothing K3s does...
    const flagged = { execStart: ["server", "--node-ip", "10.0.0.5"] };
    const base = "server: https://10.0.0.21:6443\ntoken: the-cluster-token\n";
    assert.deepStrictEqual(
      settingsThatChange(flagged, base, programYaml({ "node-ip": "10.0.0.9" }), "server", TOKENS),
      [],
    );
    // ...but a drop-in's `key+` appends to the new file's list.
    const dropin = {
      configDropins: [{ path: "/etc/rancher/k3s/config.yaml.d/1.yaml", text: "tls-san+: [b]\n" }],
    };
    assert.deepStrictEqual(
      settingsThatChange(
        dropin,
        `${base}tls-san: [a]\n`,
        programYaml({ "tls-san": ["c"] }),
        "server",
        TOKENS,
      ),
      ["tls-san"],
    );
  });

  it("a default written out, a false boolean and the order of a set are no setting; an -arg list's order is", () => {
    const settings = {
      "cluster-cidr": "10.42.0.0/16",
      "secrets-encryption": "false",
      "cluster-init": "true",
      disable: ["traefik", "servicelb", "traefik"],
      "kube-apiserver-arg": ["b=1", "a=2"],
    };
    assert.deepStrictEqual(comparable(settings, "server", TOKENS), {
      "cluster-init": "true",
      disable: ["servicelb", "traefik"],
      "kube-apiserver-arg": ["b=1", "a=2"],
    });
  });
});
