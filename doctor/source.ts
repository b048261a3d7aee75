import { spawnSync } from "child_process";
import { readFileSync } from "fs";
import { basename, resolve } from "path";
import { utils } from "ssh2";
import { parse } from "yaml";
import {
  buildClusterSpec,
  ClusterSpec,
  CONFIG_NAMESPACE,
  ConfigError,
  sortStackEntries,
} from "../config";

/** The doctor cannot run (bad arguments, config or credentials): exit 3 with these lines. */
export class DoctorError extends Error {
  constructor(readonly lines: readonly string[]) {
    super(lines.join("\n"));
    this.name = "DoctorError";
  }
}

/** A stack's validated spec and the key to reach its machines. */
export interface LoadedStack {
  readonly stack: string;
  readonly spec: ClusterSpec;
  readonly warnings: readonly string[];
  /** Never printed, logged or written anywhere. */
  readonly privateKey: string;
  readonly hasAgentToken: boolean;
  /** Where the config came from, for the report. */
  readonly source: string;
}

/** Stands for a secret's value when only its presence matters. */
const SECRET = Object.freeze({ secure: "(secret)" });
const isSecret = (value: unknown) =>
  typeof value === "object" && value !== null && "secure" in value;

/** The output of `pulumi config --json --show-secrets`: each key's value (objects as objects)
 * for the config checks, and the secrets' plain values apart. */
export function entriesFromPulumiJson(text: string): {
  config: Record<string, unknown>;
  secrets: Record<string, string>;
} {
  const document = JSON.parse(text) as Record<
    string,
    { value?: string; objectValue?: unknown; secret?: boolean }
  >;
  const config: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const [key, entry] of Object.entries(document)) {
    if (entry.secret) {
      config[key] = SECRET;
      if (typeof entry.value === "string") secrets[key] = entry.value;
    } else config[key] = entry.objectValue ?? entry.value;
  }
  return { config, secrets };
}

/** Validates the stack's config with the program's own rules (config/). */
export function specFromConfig(
  config: Readonly<Record<string, unknown>>,
  where: string,
): { spec: ClusterSpec; warnings: readonly string[] } {
  const entries = sortStackEntries(config, isSecret);
  let problems = [...entries.problems];
  try {
    const { spec, warnings } = buildClusterSpec(entries.structured);
    if (problems.length === 0) return { spec, warnings };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = [...problems, ...error.problems];
  }
  throw new DoctorError([`${where}: invalid stack config:`, ...problems.map((p) => `  - ${p}`)]);
}

function checkedKey(key: string, where: string): string {
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error)
    throw new DoctorError([`${where}: not a usable SSH private key: ${parsed.message}`]);
  return key;
}

/**
 * The primary path: `pulumi config --json --show-secrets --stack NAME` in the project directory,
 * with the caller's environment (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, PATH with the
 * engine from scripts/engine.sh).
 */
export function loadFromPulumi(stack: string, cwd: string, env: NodeJS.ProcessEnv): LoadedStack {
  const run = spawnSync("pulumi", ["config", "--json", "--show-secrets", "--stack", stack], {
    cwd,
    env: { ...env, PULUMI_SKIP_UPDATE_CHECK: "true" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error) {
    const hint =
      (run.error as NodeJS.ErrnoException).code === "ENOENT"
        ? " (source scripts/engine-env.sh after scripts/engine.sh, or use --stack-file and --ssh-key)"
        : "";
    throw new DoctorError([`cannot run pulumi: ${run.error.message}${hint}`]);
  }
  if (run.status !== 0) {
    throw new DoctorError([
      `\`pulumi config --stack ${stack}\` failed (exit ${run.status}) in ${cwd}:`,
      ...run.stderr
        .trim()
        .split("\n")
        .map((l) => `  ${l}`),
    ]);
  }
  const { config, secrets } = entriesFromPulumiJson(run.stdout);
  const where = `stack ${stack}`;
  const { spec, warnings } = specFromConfig(config, where);
  const key = secrets[`${CONFIG_NAMESPACE}:sshPrivateKey`];
  if (!key)
    throw new DoctorError([
      `${where}: secret \`${CONFIG_NAMESPACE}:sshPrivateKey\` is not set (pulumi config set --secret sshPrivateKey ...)`,
    ]);
  return {
    stack,
    spec,
    warnings,
    privateKey: checkedKey(key, `${where}: \`${CONFIG_NAMESPACE}:sshPrivateKey\``),
    hasAgentToken: `${CONFIG_NAMESPACE}:agentToken` in config,
    source: `pulumi config of stack ${stack} in ${cwd}`,
  };
}

/** `Pulumi.lab.yaml` → `lab`. */
export function stackNameOf(file: string): string {
  return basename(file)
    .replace(/^Pulumi\./, "")
    .replace(/\.ya?ml$/, "");
}

/** Offline: non-secret config from a stack file, the key from a file. No Pulumi CLI needed. */
export function loadFromStackFile(file: string, keyFile: string, stack?: string): LoadedStack {
  let text: string;
  let document: unknown;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new DoctorError([`cannot read the stack file: ${(error as Error).message}`]);
  }
  try {
    document = parse(text);
  } catch (error) {
    throw new DoctorError([`${file}: cannot read it as YAML: ${(error as Error).message}`]);
  }
  const config = (document as { config?: Record<string, unknown> } | null)?.config ?? {};
  const { spec, warnings } = specFromConfig(config, file);
  let key: string;
  try {
    key = readFileSync(keyFile, "utf8");
  } catch (error) {
    throw new DoctorError([`cannot read the SSH key: ${(error as Error).message}`]);
  }
  return {
    stack: stack ?? stackNameOf(file),
    spec,
    warnings,
    privateKey: checkedKey(key, keyFile),
    hasAgentToken: `${CONFIG_NAMESPACE}:agentToken` in config,
    source: `${resolve(file)} with the key in ${resolve(keyFile)}`,
  };
}
