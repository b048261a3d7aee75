import { spawnSync, SpawnSyncReturns } from "child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "fs";
import { join, resolve } from "path";
import { LabEvent, readEvents } from "../../lab/events";

export const REPO = resolve(__dirname, "..", "..");
export const LAB_TOKEN = "lab-post-token-not-secret";
export const LAB_CLIENT_KEY = join(REPO, "lab", "keys", "client");
const PASSPHRASE = "k3s-homelab-lab";

/** Everything the program needs, linked into a scratch project so stack files and state written
 * by the tests never touch the repo's own files. */
const PROJECT_ENTRIES = [
  "index.ts",
  "config",
  "components",
  "plan",
  "probe",
  "node_modules",
  "package.json",
  "tsconfig.json",
];

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

/** A scratch Pulumi project under .state/, with a file backend and the lab stack. */
export class Workspace {
  readonly dir: string;
  readonly backend: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(name: string, stack = "lab") {
    this.dir = join(REPO, ".state", name, "project");
    this.backend = join(REPO, ".state", name, "backend");
    rmSync(join(REPO, ".state", name), { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.backend, { recursive: true });
    for (const entry of PROJECT_ENTRIES) symlinkSync(join(REPO, entry), join(this.dir, entry));
    copyFileSync(join(REPO, "Pulumi.yaml"), join(this.dir, "Pulumi.yaml"));
    copyFileSync(join(REPO, "Pulumi.lab.yaml"), join(this.dir, `Pulumi.${stack}.yaml`));
    const bin = engineBin();
    const cache = resolve(bin, "..");
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${bin}:${join(REPO, "node_modules", "@pulumi", "pulumi")}:${process.env.PATH}`,
      PULUMI_HOME: join(cache, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${this.backend}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_NODEJS_TRANSPILE_ONLY: "true",
      NO_COLOR: "1",
    };
    // No agent may stand in for the pinned key.
    delete env.SSH_AUTH_SOCK;
    this.env = env;
    this.mustPulumi("stack", "init", stack, "--secrets-provider", "passphrase");
    this.mustPulumi(
      "config",
      "set",
      "--secret",
      "sshPrivateKey",
      "--",
      readFileSync(LAB_CLIENT_KEY, "utf8"),
    );
    this.mustPulumi("config", "set", "--secret", "token", LAB_TOKEN);
  }

  pulumi(...args: string[]): Run {
    return toRun(
      spawnSync("pulumi", [...args, "--non-interactive"], {
        cwd: this.dir,
        env: this.env,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
        timeout: 20 * 60 * 1000,
      }),
    );
  }

  mustPulumi(...args: string[]): Run {
    const run = this.pulumi(...args);
    if (run.status !== 0)
      throw new Error(`pulumi ${args[0]} ${args[1] ?? ""} failed (${run.status}):\n${run.output}`);
    return run;
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

  outputs(): Record<string, unknown> {
    return JSON.parse(
      this.mustPulumi("stack", "output", "--json", "--show-secrets").stdout,
    ) as Record<string, unknown>;
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
