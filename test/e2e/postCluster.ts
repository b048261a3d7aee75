import * as assert from "assert";
import { existsSync, readFileSync } from "fs";
import { join } from "path";
import { onHost, REPO } from "./harness";

/** The lab's post fixture: each guest, its address, its Proxmox host and VM id. */
export const POST_FIXTURE = join(REPO, "lab", "fixtures", "post.yaml");
export const POST_GUESTS = [
  { name: "k3s-vm-pve", address: "127.0.0.21", host: "pve", hostAddress: "127.0.0.11", vmid: 105 },
  {
    name: "k3s-vm-piglet",
    address: "127.0.0.22",
    host: "piglet",
    hostAddress: "127.0.0.12",
    vmid: 106,
  },
  {
    name: "k3s-vm-fawn",
    address: "127.0.0.23",
    host: "fawn",
    hostAddress: "127.0.0.13",
    vmid: 108,
  },
];

/** A test host's public host key line: committed (test-only) in lab/keys, else the one `lab up`
 * generated into .lab/keys for a host the committed keys do not cover. */
export function labHostKey(name: string): string {
  const committed = join(REPO, "lab", "keys", `${name}_ed25519.pub`);
  const file = existsSync(committed)
    ? committed
    : join(REPO, ".lab", "keys", `${name}_ed25519.pub`);
  return readFileSync(file, "utf8").split(" ").slice(0, 2).join(" ");
}

/** Runs a command on a test host and returns its trimmed stdout; fails the test on a non-zero exit. */
export function sh(address: string, name: string, command: string): string {
  const run = onHost(address, labHostKey(name), command);
  if (run.status !== 0) {
    assert.fail(`${name}: ${command} exited ${run.status}\n${run.output}${k3sLogTail(name)}`);
  }
  return run.stdout.trim();
}

/** The last lines of a guest's k3s service log in the lab, for a failure message: a failed
 * `systemctl start` then says why the service exited. */
function k3sLogTail(name: string): string {
  const logs = join(REPO, ".lab", "shared", "logs");
  const files = [`${name}-k3s.log`, `${name}-k3s-agent.log`].map((f) => join(logs, f));
  return files
    .filter((file) => existsSync(file))
    .map((file) => `\n${file}:\n${readFileSync(file, "utf8").split("\n").slice(-15).join("\n")}`)
    .join("");
}
