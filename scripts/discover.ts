/**
 * `npm run discover -- --host pve=pve.maas --server k3s-vm-pve.maas`: reads, read-only, what the
 * cluster runs and writes Pulumi.<stack>.yaml from it. Every host key comes from ssh-keyscan, is
 * printed with its fingerprint for the owner to compare and confirm (unless --yes), and goes into
 * the file only after a connection pinned to exactly that key succeeded; a key that changed
 * between the scan and the connection stops it, with no file written.
 */
import { spawnSync } from "child_process";
import { existsSync, readFileSync, writeFileSync } from "fs";
import { homedir } from "os";
import { join } from "path";
import { createInterface } from "readline";
import {
  API_NODES_SCRIPT,
  DiscoveredHost,
  DiscoveredNode,
  CONFIRM_PROMPT,
  confirmed,
  DiscoverArgs,
  fingerprintLines,
  keyChangedSinceScan,
  Scanned,
  keyscanLine,
  parseApiNodes,
  parseDiscoverArgs,
  parseGuestDiscovery,
  parseHostDiscovery,
  renderDiscoveredStack,
  renderGuestDiscovery,
  renderHostDiscovery,
} from "../discover";
import { ProbeError, runRemoteScript } from "../probe/ssh";

/** ssh-keyscan's ed25519 key of ADDRESS. Throws naming the machine. */
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
  return line;
}

/** One line from stdin; undefined at its end. */
function answer(question: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    let got: string | undefined;
    rl.on("line", (line) => {
      got = line;
      rl.close();
    });
    rl.on("close", () => resolve(got));
    rl.setPrompt(question);
    rl.prompt();
  });
}

/** The scanned keys, printed with their fingerprints and, unless --yes, confirmed by the owner
 * before anything connects to them. */
async function trusted(args: DiscoverArgs, scanned: Scanned[]): Promise<Scanned[]> {
  if (scanned.length === 0) return scanned;
  console.log("host keys ssh-keyscan read:");
  for (const line of fingerprintLines(scanned)) console.log(line);
  if (args.yes) return scanned;
  if (!confirmed(await answer(CONFIRM_PROMPT))) {
    throw new Error("the host keys were not confirmed: no file written");
  }
  return scanned;
}

/** Runs a read-only script pinned to the scanned key; the key is kept only if this succeeds. */
async function read(
  args: DiscoverArgs,
  key: string,
  machine: Scanned,
  script: string,
): Promise<string> {
  const endpoint = { ...machine, port: args.port, user: args.user };
  let result;
  try {
    result = await runRemoteScript(endpoint, key, script, 60_000);
  } catch (error) {
    if (error instanceof ProbeError && error.presentedKey) {
      throw new KeyChanged(keyChangedSinceScan(machine, error.presentedKey));
    }
    throw error;
  }
  if (result.code !== 0) {
    throw new Error(
      `${machine.name} (${machine.address}): the read-only script exited ${result.code}: ${result.stderr.trim().slice(0, 300)}`,
    );
  }
  return result.stdout;
}

/** A key that changed since the scan: it stops discover, whichever machine it was. */
class KeyChanged extends Error {}

async function readHostsAndApi(
  args: DiscoverArgs,
  key: string,
): Promise<{ hosts: DiscoveredHost[]; api: string }> {
  const machines = [...args.hosts, ["the API server", args.server] as const].map(
    ([name, address]) => ({
      name,
      address,
      hostKey: scan(name, address, args.port),
    }),
  );
  const scanned = await trusted(args, machines);
  const hosts: DiscoveredHost[] = [];
  for (const host of scanned.slice(0, -1)) {
    console.log(`reading Proxmox host ${host.name} (${host.address}) ...`);
    hosts.push(parseHostDiscovery(await read(args, key, host, renderHostDiscovery()), host));
  }
  console.log(`asking ${args.server} for the cluster's nodes ...`);
  return { hosts, api: await read(args, key, scanned.at(-1)!, API_NODES_SCRIPT) };
}

async function readNodes(args: DiscoverArgs, key: string, api: string): Promise<DiscoveredNode[]> {
  const listed = parseApiNodes(api).map((node) => ({
    node,
    address: args.nodeAddresses.get(node.name) ?? node.internalIp,
  }));
  const nodes: DiscoveredNode[] = [];
  const reachable: Scanned[] = [];
  for (const { node, address } of listed) {
    try {
      reachable.push({ name: node.name, address, hostKey: scan(node.name, address, args.port) });
    } catch (error) {
      nodes.push({ ...node, unreachable: (error as Error).message });
    }
  }
  for (const machine of await trusted(args, reachable)) {
    const { node } = listed.find((l) => l.node.name === machine.name)!;
    console.log(`reading node ${node.name} (${machine.address}) ...`);
    try {
      const stdout = await read(args, key, machine, renderGuestDiscovery(node.role === "server"));
      nodes.push({ ...node, guest: parseGuestDiscovery(stdout, machine) });
    } catch (error) {
      if (error instanceof KeyChanged) throw error;
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
  let key: string;
  try {
    key = readFileSync(args.sshKey, "utf8");
  } catch (error) {
    console.error(
      `discover: cannot read the SSH key ${args.sshKey} (--ssh-key): ${(error as Error).message}`,
    );
    return 1;
  }
  const { hosts, api } = await readHostsAndApi(args, key);
  const nodes = await readNodes(args, key, api);
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

// Exits when done: a question asked on stdin leaves it open (stdout and stderr are written
// synchronously to files and pipes on Linux, so nothing printed is lost).
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`discover: ${error.message}`);
    process.exit(1);
  },
);
