// The program against the lab: a scratch Pulumi project driven through the Automation API with
// the engine scripts/engine.sh builds. Used by the e2e tests, the demo and the benchmark.
import { spawnSync } from "child_process";
import {
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
import { homelabProgram } from "../program";
import { LAB_CLIENT_KEY, LAB_TOKEN, REPO, Run } from "./run";

const PASSPHRASE = "k3s-homelab-lab";

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
 * The Node SDK keeps one run's engine and monitor clients in process-wide state (`runtime/
 * settings.ts`); inline programs run one after another in one process share it, and a later run
 * can fail at once with grpc-js's "14 UNAVAILABLE: No connection established" (pulumi/pulumi
 * #7125, #6457; seen once in stop 21's CI: the stack alone, errored, in 1 s). The `pulumi` CLI
 * starts a fresh language host for every run, so an owner never meets it. Only that failure, with
 * nothing but the stack resource in the summary, counts.
 */
export function failedInInlinePlumbing(run: Run): boolean {
  return (
    run.status !== 0 &&
    /14 UNAVAILABLE: No connection established/.test(run.output) &&
    /Resources:\n\s+1 errored\n\n/.test(run.output)
  );
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
  /** Also print the engine's output as it comes (the demo does). */
  echo = false;

  constructor(
    readonly name: string,
    readonly stackName = "lab",
    stackFile = join(REPO, "Pulumi.lab.yaml"),
    /** The cluster token the fixture's servers were installed with. */
    private readonly token = LAB_TOKEN,
    /** Start from nothing (default), or open the project and state an earlier run left. */
    private readonly fresh = true,
  ) {
    this.dir = join(REPO, ".state", name, "project");
    this.backend = join(REPO, ".state", name, "backend");
    if (this.fresh) rmSync(join(REPO, ".state", name), { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.backend, { recursive: true });
    // The project without its `main` (index.ts, not here): the lab runs homelabProgram inline.
    const project = readFileSync(join(REPO, "Pulumi.yaml"), "utf8");
    writeFileSync(join(this.dir, "Pulumi.yaml"), project.replace(/^main: .*\n/m, ""));
    // A reopened project keeps its stack file: it holds the passphrase's salt and the secrets.
    const projectStackFile = join(this.dir, `Pulumi.${stackName}.yaml`);
    if (this.fresh || !existsSync(projectStackFile)) copyFileSync(stackFile, projectStackFile);
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
      // A reopened project's stack file has them already (setting them again costs two CLI runs).
      if (!this.fresh) return stack;
      await stack.setConfig("k3s-homelab:sshPrivateKey", {
        value: readFileSync(LAB_CLIENT_KEY, "utf8"),
        secret: true,
      });
      await stack.setConfig("k3s-homelab:token", { value: this.token, secret: true });
      return stack;
    })();
    return this.stackPromise;
  }

  private runs = 0;

  /**
   * Runs one engine operation; its whole output is also kept in .state/NAME/runs/ to read. An
   * operation the inline program's own gRPC plumbing failed before any step (see
   * `failedInInlinePlumbing`) runs once more, and says so.
   */
  private async run(
    what: string,
    op: (stack: Stack, onOutput: (out: string) => void) => Promise<unknown>,
  ): Promise<Run> {
    const first = await this.runOnce(what, op);
    if (!failedInInlinePlumbing(first)) return first;
    const note = `lab: ${what} failed before any step with the inline program's gRPC UNAVAILABLE (the Automation API's shared in-process state, not the program); running it once more\n`;
    process.stdout.write(note);
    const second = await this.runOnce(what, op);
    return { ...second, output: `${note}${second.output}` };
  }

  private async runOnce(
    what: string,
    op: (stack: Stack, onOutput: (out: string) => void) => Promise<unknown>,
  ): Promise<Run> {
    const stack = await this.stack();
    let output = "";
    let result: Run;
    try {
      await op(stack, (out) => {
        output += out;
        if (this.echo) process.stdout.write(out);
      });
      result = { status: 0, stdout: output, stderr: "", output };
    } catch (error) {
      result = {
        status: 1,
        stdout: output,
        stderr: String(error),
        output: `${output}\n${String(error)}`,
      };
    }
    const dir = join(REPO, ".state", this.name, "runs");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${++this.runs}-${what}.log`), result.output);
    return result;
  }

  preview(diff = true, refresh = false): Promise<Run> {
    return this.run("preview", (s, onOutput) => s.preview({ diff, refresh, onOutput }));
  }

  up(refresh = false): Promise<Run> {
    return this.run("up", (s, onOutput) => s.up({ refresh, onOutput }));
  }

  destroy(): Promise<Run> {
    return this.run("destroy", (s, onOutput) => s.destroy({ onOutput }));
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
