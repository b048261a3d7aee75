import { spawnSync, SpawnSyncReturns } from "child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "fs";
import { join, resolve } from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { parse, stringify } from "yaml";
import { LabEvent, readEvents } from "../../lab/events";
import { homelabProgram } from "../../program";

export const REPO = resolve(__dirname, "..", "..");
export const LAB_TOKEN = "lab-post-token-not-secret";
export const LAB_CLIENT_KEY = join(REPO, "lab", "keys", "client");
const PASSPHRASE = "k3s-homelab-lab";

export interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr together, for assertions on what the owner sees. */
  readonly output: string;
}

function toRun(result: SpawnSyncReturns<string>): Run {
  if (result.error) throw result.error;
  return {
    status: result.status ?? 1,
    stdout: result.stdout,
    stderr: result.stderr,
    output: `${result.stdout}\n${result.stderr}`,
  };
}

let engineBinDir: string | undefined;

/** Builds or finds the engine (scripts/engine.sh, cached outside the repo) once per run. */
export function engineBin(): string {
  if (engineBinDir) return engineBinDir;
  const result = spawnSync("bash", [join(REPO, "scripts", "engine.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (result.status !== 0) throw new Error(`scripts/engine.sh failed (${result.status})`);
  engineBinDir = result.stdout.trim().split("\n").pop()!;
  return engineBinDir;
}

/**
 * A scratch Pulumi project under .state/ with a file backend and the lab stack. The program runs
 * as an Automation API inline program in this process (the real CLI drives it), so no
 * `pulumi-language-nodejs` is needed; stack files and state never touch the repo's own files.
 */
export class Workspace {
  readonly dir: string;
  readonly backend: string;
  readonly env: Record<string, string>;
  private stackPromise?: Promise<Stack>;

  constructor(
    readonly name: string,
    readonly stackName = "lab",
    stackFile = join(REPO, "Pulumi.lab.yaml"),
  ) {
    this.dir = join(REPO, ".state", name, "project");
    this.backend = join(REPO, ".state", name, "backend");
    rmSync(join(REPO, ".state", name), { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.backend, { recursive: true });
    copyFileSync(join(REPO, "Pulumi.yaml"), join(this.dir, "Pulumi.yaml"));
    copyFileSync(stackFile, join(this.dir, `Pulumi.${stackName}.yaml`));
    const bin = engineBin();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && k !== "SSH_AUTH_SOCK") env[k] = v;
    Object.assign(env, {
      PATH: `${bin}:${process.env.PATH}`,
      PULUMI_HOME: join(resolve(bin, ".."), "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${this.backend}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      NO_COLOR: "1",
    });
    // No agent may stand in for the pinned key: the provider would use SSH_AUTH_SOCK if set.
    delete process.env.SSH_AUTH_SOCK;
    this.env = env;
  }

  /** The stack, created on first use with the lab's (test-only) secrets. */
  stack(): Promise<Stack> {
    this.stackPromise ??= (async () => {
      // The engine built by scripts/engine.sh: <cache>/engine/bin/pulumi.
      const pulumiCommand = await PulumiCommand.get({ root: resolve(engineBin(), "..") });
      const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: this.stackName, projectName: "k3s-homelab", program: homelabProgram },
        { workDir: this.dir, envVars: this.env, secretsProvider: "passphrase", pulumiCommand },
      );
      await stack.setConfig("k3s-homelab:sshPrivateKey", {
        value: readFileSync(LAB_CLIENT_KEY, "utf8"),
        secret: true,
      });
      await stack.setConfig("k3s-homelab:token", { value: LAB_TOKEN, secret: true });
      return stack;
    })();
    return this.stackPromise;
  }

  private async run(
    op: (stack: Stack, onOutput: (out: string) => void) => Promise<unknown>,
  ): Promise<Run> {
    const stack = await this.stack();
    let output = "";
    try {
      await op(stack, (out) => (output += out));
      return { status: 0, stdout: output, stderr: "", output };
    } catch (error) {
      return {
        status: 1,
        stdout: output,
        stderr: String(error),
        output: `${output}\n${String(error)}`,
      };
    }
  }

  preview(diff = true): Promise<Run> {
    return this.run((s, onOutput) => s.preview({ diff, onOutput }));
  }

  up(): Promise<Run> {
    return this.run((s, onOutput) => s.up({ onOutput }));
  }

  destroy(): Promise<Run> {
    return this.run((s, onOutput) => s.destroy({ onOutput }));
  }

  /** Every file the backend wrote (state, history, backups) as one text, for leak checks. */
  backendText(): string {
    const texts: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else texts.push(readFileSync(path, "utf8"));
      }
    };
    if (existsSync(this.backend)) walk(this.backend);
    return texts.join("\n");
  }

  async outputs(): Promise<Record<string, unknown>> {
    const outputs = await (await this.stack()).outputs();
    return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
  }
}

/** The lab CLI (must run as root). */
export function lab(...args: string[]): Run {
  return toRun(
    spawnSync("npx", ["ts-node", "--transpile-only", join(REPO, "lab", "cli.ts"), ...args], {
      cwd: REPO,
      encoding: "utf8",
      timeout: 10 * 60 * 1000,
    }),
  );
}

export function labUp(fixture: string): void {
  const run = lab("up", fixture);
  if (run.status !== 0) throw new Error(`lab up ${fixture} failed:\n${run.output}`);
}

export function labDown(): void {
  const run = lab("down", "--keep-logs");
  if (run.status !== 0) throw new Error(`lab down failed:\n${run.output}`);
}

/** Lab events since a mark (the count of events seen before). */
export function eventsSince(mark: number): LabEvent[] {
  return readEvents().slice(mark);
}

export function eventMark(): number {
  return readEvents().length;
}

/** Runs a shell command on a test host over SSH, with the lab's client key and pinned host key. */
export function onHost(address: string, hostKeyLine: string, command: string): Run {
  const dir = join(REPO, ".state", "ssh");
  mkdirSync(dir, { recursive: true });
  const knownHosts = join(dir, `known_hosts_${address}`);
  writeFileSync(knownHosts, `${address} ${hostKeyLine}\n`);
  // git does not keep a key's 0600 mode, and ssh refuses a key others can read.
  const key = join(dir, "client");
  copyFileSync(LAB_CLIENT_KEY, key);
  chmodSync(key, 0o600);
  return toRun(
    spawnSync(
      "ssh",
      [
        "-i",
        key,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        `root@${address}`,
        command,
      ],
      { encoding: "utf8", timeout: 60_000, env: { ...process.env, SSH_AUTH_SOCK: "" } },
    ),
  );
}

/** The e2e tests need root (namespaces) and the engine. Outside CI they are skipped with the
 * reason when root is missing; under CI (CI=true) that is a failure, never a skip. */
export function requireLabMachine(context: Mocha.Context): void {
  const isRoot = process.getuid?.() === 0;
  if (isRoot) return;
  if (process.env.CI === "true") throw new Error("e2e tests need root for the lab's namespaces");
  console.log("    (skipped: the lab needs root)");
  context.skip();
}

/** A YAML document a test edits freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

/** A copy of a stack file with some cluster settings changed, for one test. */
export function stackFileWith(name: string, edit: (config: Doc) => void): string {
  const doc = parse(readFileSync(join(REPO, "Pulumi.lab.yaml"), "utf8")) as {
    config: Doc;
  };
  edit(doc.config);
  const dir = join(REPO, ".state", "stack-files");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `Pulumi.${name}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

/** A copy of a lab fixture with some guests changed, for one test. */
export function fixtureWith(name: string, edit: (fixture: Doc) => void): string {
  const doc = parse(readFileSync(join(REPO, "lab", "fixtures", "post.yaml"), "utf8")) as Doc;
  edit(doc);
  const dir = join(REPO, ".state", "fixtures");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}
