import * as assert from "assert";
import { readFileSync } from "fs";
import { join } from "path";
import { parse } from "yaml";
import { loadFixture } from "../../lab/fixture";
import { installArgsAsConfig } from "../../lab/stackFile";

const REPO = join(__dirname, "..", "..");

describe("lab stacks carry the fixtures' install-time flags", () => {
  it("turns installer flags into node config, a repeated flag into a list", () => {
    assert.deepStrictEqual(
      installArgsAsConfig(["--node-ip=10.0.0.5", "--tls-san=a", "--tls-san=b", "--cluster-init"]),
      { "node-ip": "10.0.0.5", "tls-san": ["a", "b"], "cluster-init": "true" },
    );
  });

  it("Pulumi.lab.yaml carries what post.yaml's guests were installed with", () => {
    const fixture = loadFixture(join(REPO, "lab", "fixtures", "post.yaml"));
    const stack = parse(readFileSync(join(REPO, "Pulumi.lab.yaml"), "utf8")) as {
      config: Record<string, Record<string, { config?: Record<string, unknown> }>>;
    };
    for (const guest of fixture.guests) {
      const carried = Object.entries(installArgsAsConfig(guest.installArgs)).map(([k, v]) => [
        k,
        ([] as string[]).concat(v),
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
