/**
 * `npm run discover -- --host pve=pve.maas --server k3s-vm-pve.maas`: reads, read-only, what the
 * cluster runs and writes Pulumi.<stack>.yaml from it. Every host key comes from ssh-keyscan, is
 * printed with its fingerprint for the owner to compare, and goes into the file only after a
 * connection pinned to exactly that key succeeded.
 */
import { spawnSync } from "child_process";
import { existsSync, readFileSync, writeFileSync } from "fs";
import { homedir } from "os";
import { join } from "path";
import {
  API_NODES_SCRIPT,
  DiscoveredHost,
  DiscoveredNode,
  DiscoverArgs,
  hostKeyFingerprint,
  keyscanLine,
  parseApiNodes,
  parseDiscoverArgs,
  parseGuestDiscovery,
  parseHostDiscovery,
  renderDiscoveredStack,
  renderGuestDiscovery,
  renderHostDiscovery,
} from "../discover";
import { runRemoteScript } from "../probe/ssh";

/** ssh-keyscan's ed25519 key of ADDRESS, printed with its fingerprint. Throws naming the machine. */
function scan(name: string, address: string, port: number): string {
  const run = spawnSync("ssh-keyscan", ["-t", "ed25519", "-p", String(port), address], {
    encoding: "utf8",
    timeout: 20_000,
  });
  const line = keyscanLine(run.stdout ?? "");
  if (!line) {
    throw new Error(
      `${name} (${address}): ssh-keyscan got no ed25519 host key (${(run.stderr ?? "").trim() || `exit ${run.status}`})`,
    );
  }
  console.log(
    `${name} (${address}): host key ${hostKeyFingerprint(line)}; compare on the machine: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`,
  );
  return line;
}

/** Runs a read-only script pinned to the scanned key; the key is kept only if this succeeds. */
async function read(
  args: DiscoverArgs,
  key: string,
  name: string,
  address: string,
  script: string,
): Promise<{ hostKey: string; stdout: string }> {
  const hostKey = scan(name, address, args.port);
  const endpoint = { name, address, port: args.port, user: args.user, hostKey };
  const result = await runRemoteScript(endpoint, key, script, 60_000);
  if (result.code !== 0) {
    throw new Error(
      `${name} (${address}): the read-only script exited ${result.code}: ${result.stderr.trim().slice(0, 300)}`,
    );
  }
  return { hostKey, stdout: result.stdout };
}

async function readHosts(args: DiscoverArgs, key: string): Promise<DiscoveredHost[]> {
  const hosts: DiscoveredHost[] = [];
  for (const [name, address] of args.hosts) {
    console.log(`reading Proxmox host ${name} (${address}) ...`);
    const { hostKey, stdout } = await read(args, key, name, address, renderHostDiscovery());
    hosts.push(parseHostDiscovery(stdout, { name, address, hostKey }));
  }
  return hosts;
}

async function readNodes(args: DiscoverArgs, key: string): Promise<DiscoveredNode[]> {
  console.log(`asking ${args.server} for the cluster's nodes ...`);
  const api = await read(args, key, args.server, args.server, API_NODES_SCRIPT);
  const nodes: DiscoveredNode[] = [];
  for (const node of parseApiNodes(api.stdout)) {
    const address = args.nodeAddresses.get(node.name) ?? node.internalIp;
    console.log(`reading node ${node.name} (${address}) ...`);
    try {
      const script = renderGuestDiscovery(node.role === "server");
      const { hostKey, stdout } = await read(args, key, node.name, address, script);
      nodes.push({ ...node, guest: parseGuestDiscovery(stdout, { address, hostKey }) });
    } catch (error) {
      nodes.push({ ...node, unreachable: (error as Error).message });
    }
  }
  return nodes;
}

async function main(argv: string[]): Promise<number> {
  const args = parseDiscoverArgs(argv, homedir());
  const file = join(args.dir, `Pulumi.${args.stack}.yaml`);
  if (existsSync(file) && !args.force) {
    console.error(`discover: ${file} exists; not overwriting it without --force`);
    return 1;
  }
  const key = readFileSync(args.sshKey, "utf8");
  const hosts = await readHosts(args, key);
  const nodes = await readNodes(args, key);
  const out = renderDiscoveredStack({
    stack: args.stack,
    hosts,
    nodes,
    sshUser: args.user,
    readAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  });
  writeFileSync(file, out.text);
  console.log(`discover: wrote ${file}`);
  for (const warning of out.warnings) console.log(`warning: ${warning}`);
  if (out.leftOut.length > 0) {
    console.log("left out (not in the file; add them by hand once you know them):");
    for (const line of out.leftOut) console.log(`  - ${line}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: Error) => {
    console.error(`discover: ${error.message}`);
    process.exitCode = 1;
  },
);
