import * as assert from "assert";
import { readFileSync } from "fs";
import { join } from "path";
import { parse } from "yaml";
import { loadFixture } from "../../lab/fixture";
import { installArgsAsConfig, stackNodeConfig } from "../../lab/stackFile";
import { failedInInlinePlumbing } from "../../lab/stack";

const REPO = join(__dirname, "..", "..");

describe("lab stacks carry the fixtures' install-time flags and cluster-init", () => {
  it("turns installer flags into node config, a repeated flag into a list", () => {
    assert.deepStrictEqual(
      installArgsAsConfig(["--node-ip=10.0.0.5", "--tls-san=a", "--tls-san=b", "--cluster-init"]),
      { "node-ip": "10.0.0.5", "tls-san": ["a", "b"], "cluster-init": "true" },
    );
  });

  it("the server that started etcd keeps its cluster-init; a joining server gets none", () => {
    const fixture = loadFixture(join(REPO, "lab", "fixtures", "mixed.yaml"));
    const [first, second] = fixture.guests.filter((g) => g.role === "server");
    assert.deepStrictEqual(stackNodeConfig(first), { config: { "cluster-init": true } });
    assert.deepStrictEqual(stackNodeConfig(second), {});
  });

  it("Pulumi.lab.yaml carries what post.yaml's guests were installed with and cluster-init", () => {
    const fixture = loadFixture(join(REPO, "lab", "fixtures", "post.yaml"));
    const stack = parse(readFileSync(join(REPO, "Pulumi.lab.yaml"), "utf8")) as {
      config: Record<string, Record<string, { config?: Record<string, unknown> }>>;
    };
    for (const guest of fixture.guests) {
      const carried = Object.entries(stackNodeConfig(guest).config ?? {}).map(([k, v]) => [
        k,
        ([] as unknown[]).concat(v),
      ]);
      const config = stack.config["k3s-homelab:nodes"][guest.name].config ?? {};
      assert.deepStrictEqual(
        Object.entries(config).map(([k, v]) => [k, ([] as unknown[]).concat(v)]),
        carried,
        guest.name,
      );
    }
  });
});

describe("the lab's Workspace runs an operation again only when the inline plumbing failed it", () => {
  const ciOutput = [
    "Updating (lab):",
    "",
    "    pulumi:pulumi:Stack k3s-homelab-lab  error: One or more errors occurred: 14 UNAVAILABLE: No connection established. Last error: null. Resolution note: ",
    "    pulumi:pulumi:Stack k3s-homelab-lab **failed** 1 error",
    "Resources:",
    "    1 errored",
    "",
    "Duration: 1s",
  ].join("\n");
  const run = (status: number, output: string) => ({ status, stdout: output, stderr: "", output });

  it("the failure stop 21's CI saw: the stack alone errored with grpc-js's UNAVAILABLE", () => {
    assert.strictEqual(failedInInlinePlumbing(run(1, ciOutput)), true);
  });

  it("not a run that did more than the stack, nor another failure, nor a success", () => {
    const more = ciOutput.replace("    1 errored\n", "    1 errored\n    3 unchanged\n");
    assert.strictEqual(failedInInlinePlumbing(run(1, more)), false);
    const refused = ciOutput.replace(/14 UNAVAILABLE[^\n]*/, "preflight refused the roll:");
    assert.strictEqual(failedInInlinePlumbing(run(1, refused)), false);
    assert.strictEqual(failedInInlinePlumbing(run(0, ciOutput)), false);
  });
});
