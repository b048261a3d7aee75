import * as assert from "assert";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse } from "yaml";
import { parseArgs, UsageError } from "../../doctor/args";
import {
  DoctorError,
  entriesFromPulumiJson,
  loadFromPulumi,
  loadFromStackFile,
  stackNameOf,
} from "../../doctor/source";

const REPO = join(__dirname, "..", "..");
const LAB_STACK = join(REPO, "Pulumi.lab.yaml");
const LAB_KEY = join(REPO, "lab", "keys", "client");

describe("doctor: arguments", () => {
  it("takes a stack, or a stack file with a key", () => {
    assert.deepStrictEqual(parseArgs(["--stack", "homelab", "--json"], "/repo"), {
      stack: "homelab",
      cwd: "/repo",
      stackFile: undefined,
      sshKey: undefined,
      json: true,
      fio: false,
      fioRuntimeSeconds: 300,
      stateDir: "/repo/.state/doctor",
    });
    const offline = parseArgs(["--stack-file=Pulumi.lab.yaml", "--ssh-key", "k", "--fio"], "/r");
    assert.ok(offline !== "help" && offline.stackFile === "Pulumi.lab.yaml" && offline.fio);
    assert.strictEqual(parseArgs(["--help"], "/r"), "help");
  });

  it("says what is wrong", () => {
    const bad = (argv: string[], message: RegExp) =>
      assert.throws(
        () => parseArgs(argv, "/r"),
        (e: Error) => e instanceof UsageError && message.test(e.message),
      );
    bad([], /--stack NAME is required/);
    bad(["--stack-file", "x.yaml"], /go together/);
    bad(["--stack", "s", "--frobnicate"], /unknown argument `--frobnicate`/);
    bad(["--stack"], /--stack needs a value/);
    bad(["--stack", "s", "--fio-runtime", "5"], /between 10 and 3600/);
  });
});

describe("doctor: config and credentials", () => {
  it("reads the lab stack file and the key file offline", () => {
    const loaded = loadFromStackFile(LAB_STACK, LAB_KEY);
    assert.strictEqual(loaded.stack, "lab");
    assert.deepStrictEqual(
      loaded.spec.nodes.map((n) => n.name),
      ["k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn"],
    );
    assert.strictEqual(loaded.privateKey, readFileSync(LAB_KEY, "utf8"));
    assert.strictEqual(loaded.hasAgentToken, false);
    assert.strictEqual(stackNameOf("/x/Pulumi.homelab.yaml"), "homelab");
  });

  it("refuses a file that is no SSH key, without printing it", () => {
    const dir = mkdtempSync(join(tmpdir(), "doctor-"));
    try {
      writeFileSync(join(dir, "key"), "not-a-key-SECRETVALUE\n");
      assert.throws(
        () => loadFromStackFile(LAB_STACK, join(dir, "key")),
        (e: Error) =>
          e instanceof DoctorError &&
          /not a usable SSH private key/.test(e.message) &&
          !e.message.includes("SECRETVALUE"),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("sorts `pulumi config --json --show-secrets` into config and secrets", () => {
    const { config, secrets } = entriesFromPulumiJson(
      JSON.stringify({
        "k3s-homelab:cluster": {
          value: '{"k3sVersion":"v1.33.6+k3s1"}',
          objectValue: { k3sVersion: "v1.33.6+k3s1" },
          secret: false,
        },
        "k3s-homelab:sshPrivateKey": { value: "KEY", secret: true },
        "k3s-homelab:token": { value: "TOKEN", secret: true },
      }),
    );
    assert.deepStrictEqual(config["k3s-homelab:cluster"], { k3sVersion: "v1.33.6+k3s1" });
    assert.ok(!JSON.stringify(config).includes("KEY") && !JSON.stringify(config).includes("TOKEN"));
    assert.deepStrictEqual(secrets, {
      "k3s-homelab:sshPrivateKey": "KEY",
      "k3s-homelab:token": "TOKEN",
    });
  });

  describe("through the Pulumi CLI (a stand-in `pulumi` on PATH)", () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), "doctor-pulumi-"));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** A `pulumi` that records its arguments, cwd and passphrase, then prints `output`. */
    function fakePulumi(output: object | string, code = 0): NodeJS.ProcessEnv {
      const text = typeof output === "string" ? output : JSON.stringify(output);
      writeFileSync(join(dir, "out"), text);
      writeFileSync(
        join(dir, "pulumi"),
        `#!/bin/sh\necho "$PWD|$PULUMI_CONFIG_PASSPHRASE|$*" > ${dir}/called\ncat ${dir}/out\n[ ${code} = 0 ] || { echo 'error: no stack named x' >&2; exit ${code}; }\n`,
      );
      chmodSync(join(dir, "pulumi"), 0o755);
      return { ...process.env, PATH: `${dir}:${process.env.PATH}`, PULUMI_CONFIG_PASSPHRASE: "pp" };
    }

    it("runs `pulumi config --json --show-secrets --stack NAME` in the project dir", () => {
      const lab = readFileSync(LAB_STACK, "utf8");
      const json: Record<string, unknown> = {};
      const doc = parse(lab).config as Record<string, unknown>;
      for (const [k, v] of Object.entries(doc))
        json[k] = { value: JSON.stringify(v), objectValue: v, secret: false };
      json["k3s-homelab:sshPrivateKey"] = { value: readFileSync(LAB_KEY, "utf8"), secret: true };
      json["k3s-homelab:agentToken"] = { value: "a", secret: true };
      const loaded = loadFromPulumi("lab", REPO, fakePulumi(json));
      assert.strictEqual(
        readFileSync(join(dir, "called"), "utf8"),
        `${REPO}|pp|config --json --show-secrets --stack lab\n`,
      );
      assert.strictEqual(loaded.spec.nodes.length, 3);
      assert.strictEqual(loaded.privateKey, readFileSync(LAB_KEY, "utf8"));
      assert.strictEqual(loaded.hasAgentToken, true);
    });

    it("reports pulumi's own error, and a missing key", () => {
      assert.throws(
        () => loadFromPulumi("x", dir, fakePulumi("", 255)),
        /failed \(exit 255\)[\s\S]*no stack named x/,
      );
      const doc = parse(readFileSync(LAB_STACK, "utf8")).config as Record<string, unknown>;
      const json = Object.fromEntries(
        Object.entries(doc).map(([k, v]) => [k, { objectValue: v, secret: false }]),
      );
      assert.throws(
        () => loadFromPulumi("lab", dir, fakePulumi(json)),
        /`k3s-homelab:sshPrivateKey` is not set/,
      );
    });

    it("says how to get the CLI when there is none", () => {
      assert.throws(
        () => loadFromPulumi("lab", dir, { PATH: dir }),
        /cannot run pulumi: .*ENOENT.*scripts\/engine-env\.sh/,
      );
    });
  });
});
