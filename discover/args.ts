// `npm run discover -- --host pve=pve.maas ... --server k3s-vm-pve.maas`: the command line.

export interface DiscoverArgs {
  /** Stack name → address of each Proxmox host. */
  readonly hosts: ReadonlyMap<string, string>;
  /** A server to ask for the cluster's nodes. */
  readonly server: string;
  /** Node name → the address to SSH to, where it is not the node's InternalIP. */
  readonly nodeAddresses: ReadonlyMap<string, string>;
  readonly stack: string;
  readonly sshKey: string;
  readonly user: string;
  readonly port: number;
  /** Where Pulumi.<stack>.yaml goes. */
  readonly dir: string;
  readonly force: boolean;
  /** Connect to the scanned keys without asking (their fingerprints are printed all the same). */
  readonly yes: boolean;
}

export const USAGE =
  "usage: npm run discover -- --host NAME=ADDRESS [--host ...] --server ADDRESS [--node NAME=ADDRESS ...] [--stack homelab] [--ssh-key ~/.ssh/id_ed25519] [--user root] [--port 22] [--dir .] [--force] [--yes]";

function pair(flag: string, value: string): [string, string] {
  const at = value.indexOf("=");
  if (at <= 0 || at === value.length - 1) {
    throw new Error(`${flag} takes NAME=ADDRESS, not \`${value}\``);
  }
  return [value.slice(0, at), value.slice(at + 1)];
}

/** Parses the arguments; throws with the flag named on anything it cannot use. */
export function parseDiscoverArgs(argv: readonly string[], home: string): DiscoverArgs {
  const hosts = new Map<string, string>();
  const nodeAddresses = new Map<string, string>();
  const single: Record<string, string> = {};
  const switches = { force: false, yes: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--force" || flag === "--yes") {
      switches[flag === "--force" ? "force" : "yes"] = true;
      continue;
    }
    const value = argv[i + 1];
    if (!flag.startsWith("--") || value === undefined) throw new Error(USAGE);
    i++;
    if (flag === "--host") hosts.set(...pair(flag, value));
    else if (flag === "--node") nodeAddresses.set(...pair(flag, value));
    else if (["--server", "--stack", "--ssh-key", "--user", "--port", "--dir"].includes(flag)) {
      single[flag] = value;
    } else throw new Error(`unknown flag ${flag}\n${USAGE}`);
  }
  if (hosts.size === 0 || single["--server"] === undefined) throw new Error(USAGE);
  const port = Number(single["--port"] ?? "22");
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`--port must be a port number, not \`${single["--port"]}\``);
  }
  return {
    hosts,
    server: single["--server"],
    nodeAddresses,
    stack: single["--stack"] ?? "homelab",
    sshKey: single["--ssh-key"] ?? `${home}/.ssh/id_ed25519`,
    user: single["--user"] ?? "root",
    port,
    dir: single["--dir"] ?? ".",
    ...switches,
  };
}

/** The ed25519 key line of `ssh-keyscan -t ed25519 ADDRESS` output (`ADDRESS ssh-ed25519 AAAA`),
 * or undefined when the host offered none. */
export function keyscanLine(output: string): string | undefined {
  for (const line of output.split("\n")) {
    const m = /^\S+ (ssh-ed25519 [A-Za-z0-9+/]+={0,3})\s*$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}
