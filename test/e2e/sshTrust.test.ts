import * as assert from "assert";
import { spawnSync } from "child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "fs";
import { join } from "path";
import { ask } from "../../lab/supervisors";
import { hostDir } from "../../lab/paths";
import { fingerprint } from "../../probe/sshRefusals";
import { eventMark, eventsSince, labDown, labUp, requireLabMachine, Workspace } from "./harness";
import { discoverAsking } from "./discoverRun";
import { POST_FIXTURE, POST_GUESTS } from "./postCluster";
import { assertConverged, gated, mutatingOn } from "./recovery";
import { editStack } from "./stackEdit";

/**
 * Connections refused (issue 14, part 2): a guest that no longer accepts our SSH key, and a guest
 * whose host key changed. Each stops preview and up before any step, naming the machine, the
 * cause and the fix; after the README's fix, up converges. Run as root, under the lab lock:
 * flock /tmp/k3s-homelab-lab.lock npx mocha --no-config --require ts-node/register/transpile-only --timeout 1800000 --exit test/e2e/sshTrust.test.ts
 */

const [, PIGLET] = POST_GUESTS;
const EVERY_MACHINE = POST_GUESTS.flatMap((g) => [g.name, g.host]);
const CLIENT_FP = "SHA256:4qkH9qpgMqT9Vr9s0OLuREQumxNiDGnbEcRs3M5B4f4"; // ssh-keygen -lf lab/keys/client.pub
const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const keyBlob = (line: string) => Buffer.from(line.trim().split(" ")[1], "base64");

/** preview and up both refused with this line, before any step and without waiting on the guest
 * as on one still booting (it answered and refused). Returns up's output. */
async function refusedBoth(ws: Workspace, refusal: RegExp): Promise<string> {
  const preview = await ws.preview(false);
  assert.notStrictEqual(preview.status, 0, preview.output.slice(-3000));
  assert.match(preview.output, refusal);
  const up = await ws.up();
  assert.strictEqual(up.status, 1, up.output.slice(-3000));
  assert.match(up.output, refusal);
  assert.doesNotMatch(up.output, /before the preflight: restarting/);
  return up.output;
}

async function restartSshd(guest: string): Promise<void> {
  const killed = await ask(guest, { op: "sshd-kill" });
  assert.ok(killed.ok, JSON.stringify(killed));
  const started = await ask(guest, { op: "sshd-start" });
  assert.ok(started.ok, JSON.stringify(started));
}

/** A new ed25519 host key for a test host, its sshd restarted on it: as a reinstall leaves it. */
async function regenerateHostKey(name: string): Promise<{ pinned: string; regenerated: string }> {
  const keyFile = join(hostDir(name), "etc", "ssh", "ssh_host_ed25519_key");
  const pinned = readFileSync(`${keyFile}.pub`, "utf8");
  rmSync(keyFile);
  rmSync(`${keyFile}.pub`);
  const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile], {
    encoding: "utf8",
  });
  assert.strictEqual(made.status, 0, made.stderr);
  const regenerated = readFileSync(`${keyFile}.pub`, "utf8");
  await restartSshd(name);
  return { pinned, regenerated };
}

describe("e2e: a guest that refuses our key or presents another host key", function () {
  this.timeout(30 * 60 * 1000);

  before(function () {
    requireLabMachine(this);
    labDown();
    labUp(POST_FIXTURE);
  });

  after(() => labDown());

  it("a guest that no longer accepts our key: preview and up stop before any step, naming the guest, the user and our key's fingerprint; the key back, nothing changed", async () => {
    const authorized = join(hostDir(PIGLET.name), "home", ".ssh", "authorized_keys");
    const saved = readFileSync(authorized, "utf8");
    writeFileSync(authorized, "# emptied by the test\n");
    const ws = new Workspace("e2e-ssh-refused");
    const mark = eventMark();
    try {
      const refusal = new RegExp(
        `\`${PIGLET.name}\`: unreachable: it refuses our SSH key \\(user root, key ${escaped(CLIENT_FP)}, the secret sshPrivateKey\\): add its public key to /root/\\.ssh/authorized_keys there`,
      );
      const up = await refusedBoth(ws, refusal);
      console.log(`      up refused: ${up.match(refusal)![0].slice(0, 160)}...`);
      assert.deepStrictEqual(mutatingOn(eventsSince(mark), EVERY_MACHINE), []);
    } finally {
      writeFileSync(authorized, saved);
    }
  });

  it("a guest whose host key changed: refused naming both fingerprints; pinned anew from ssh-keyscan (the README's fix), up converges", async () => {
    const { pinned, regenerated } = await regenerateHostKey(PIGLET.name);
    const ws = new Workspace("e2e-host-key");
    const mark = eventMark();

    const refusal = new RegExp(
      `\`${PIGLET.name}\`: unreachable: its host key changed: it presents ssh-ed25519 ${escaped(fingerprint(keyBlob(regenerated)))}, the stack's hostKey pins ${escaped(fingerprint(keyBlob(pinned)))}, refusing to connect`,
    );
    const up = await refusedBoth(ws, refusal);
    assert.match(up, /`ssh-keyscan -t ed25519 127\.0\.0\.22` into its hostKey in the stack file/);
    assert.deepStrictEqual(mutatingOn(eventsSince(mark), EVERY_MACHINE), []);

    // The fix the message names: the key ssh-keyscan reads, into the node's hostKey.
    const scan = spawnSync("ssh-keyscan", ["-t", "ed25519", PIGLET.address], { encoding: "utf8" });
    assert.strictEqual(scan.status, 0, scan.stderr);
    const scanned = scan.stdout.trim().split(" ").slice(1, 3).join(" ");
    assert.strictEqual(scanned, regenerated.trim().split(" ").slice(0, 2).join(" "));
    editStack(ws, (config) => {
      config["k3s-homelab:nodes"][PIGLET.name].hostKey = scanned;
    });
    const converged = await ws.up();
    assert.strictEqual(converged.status, 0, converged.output.slice(-4000));
    for (const g of POST_GUESTS) assert.match(converged.output, gated(g.name), g.name);
    assertConverged(mark);
  });

  it("discover: a Proxmox host whose key changes between the scan and the connection is refused, naming both fingerprints; no file written", async () => {
    const mark = eventMark();
    let changed: { pinned: string; regenerated: string } | undefined;
    const run = await discoverAsking("e2e-discover-key", async () => {
      changed = await regenerateHostKey("pve");
    });
    assert.strictEqual(run.status, 1, run.output);
    assert.ok(changed, run.output);
    assert.match(
      run.output,
      /host keys ssh-keyscan read:\n {2}pve \(127\.0\.0\.11\): ssh-ed25519 SHA256:/,
    );
    assert.ok(
      run.output.includes(
        `discover: pve (127.0.0.11): its host key changed between the scan and the connection: ssh-keyscan read ${fingerprint(keyBlob(changed.pinned))}, the connection presented ${fingerprint(keyBlob(changed.regenerated))}; refusing to connect, and no file is written.`,
      ),
      run.output,
    );
    assert.ok(!existsSync(run.file), `${run.file} was written`);
    assert.deepStrictEqual(mutatingOn(eventsSince(mark), EVERY_MACHINE), []);
  });
});
