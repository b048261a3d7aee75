export interface DoctorOptions {
  /** The stack name (for `pulumi config` and the state file). */
  readonly stack?: string;
  /** The Pulumi project directory. */
  readonly cwd: string;
  readonly stackFile?: string;
  readonly sshKey?: string;
  readonly json: boolean;
  readonly fio: boolean;
  readonly fioRuntimeSeconds: number;
  /** Where `<stack>.json` keeps the last run's etcd readings. */
  readonly stateDir: string;
}

export const USAGE = `usage: npm run doctor -- --stack NAME [--json] [--fio] [--cwd DIR]
       npm run doctor -- --stack-file Pulumi.NAME.yaml --ssh-key FILE [--stack NAME] [--json] [--fio]

Reads every node and Proxmox host of the stack live over SSH (read-only) and prints, per node,
each check with its desired value or threshold and a verdict.

  --stack NAME         read the stack's config with \`pulumi config --show-secrets\` (needs the
                       engine on PATH, PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE)
  --cwd DIR            the Pulumi project directory (default: this repository)
  --stack-file FILE    offline: non-secret config from FILE (no Pulumi CLI) ...
  --ssh-key FILE       ... and the SSH private key from FILE (both or neither)
  --json               one JSON document instead of tables
  --fio                also run etcd's fio disk check on each server, one at a time, only while
                       the cluster is healthy (writes 22 MiB next to etcd's data, then removes it)
  --fio-runtime SECS   stop fio after SECS even before 22 MiB (default 300)
  --state-dir DIR      where the last run's etcd readings are kept (default DIR/.state/doctor)

Exit: 0 all ok, 1 a warn, 2 a fail, 3 the doctor itself failed.
`;

export class UsageError extends Error {}

/** Parses the command line (after `--`); throws UsageError with what is wrong. */
export function parseArgs(argv: readonly string[], defaultCwd: string): DoctorOptions | "help" {
  const values: Record<string, string> = {};
  const flags = new Set<string>();
  const withValue = [
    "--stack",
    "--cwd",
    "--stack-file",
    "--ssh-key",
    "--fio-runtime",
    "--state-dir",
  ];
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split(/=(.*)/s, 2);
    if (name === "-h" || name === "--help") return "help";
    if (withValue.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === "") throw new UsageError(`${name} needs a value`);
      values[name] = value;
    } else if (name === "--json" || name === "--fio") flags.add(name);
    else throw new UsageError(`unknown argument \`${argv[i]}\``);
  }
  const stackFile = values["--stack-file"];
  const sshKey = values["--ssh-key"];
  if ((stackFile === undefined) !== (sshKey === undefined))
    throw new UsageError("--stack-file and --ssh-key go together");
  if (!stackFile && !values["--stack"]) throw new UsageError("--stack NAME is required");
  const runtime = Number(values["--fio-runtime"] ?? "300");
  if (!Number.isInteger(runtime) || runtime < 10 || runtime > 3600)
    throw new UsageError("--fio-runtime must be whole seconds between 10 and 3600");
  const cwd = values["--cwd"] ?? defaultCwd;
  return {
    stack: values["--stack"],
    cwd,
    stackFile,
    sshKey,
    json: flags.has("--json"),
    fio: flags.has("--fio"),
    fioRuntimeSeconds: runtime,
    stateDir: values["--state-dir"] ?? `${cwd}/.state/doctor`,
  };
}
