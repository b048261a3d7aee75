import * as assert from "assert";
import { readFileSync } from "fs";
import { AddressInfo } from "net";
import { join } from "path";
import { Server, utils } from "ssh2";
import { ProbeError, runRemoteScript } from "../../probe/ssh";
import {
  clientKeyFingerprint,
  fingerprint,
  hostKeyChanged,
  keyRefused,
} from "../../probe/sshRefusals";

const KEYS = join(__dirname, "..", "..", "lab", "keys");
const blobOf = (pub: string) =>
  Buffer.from(readFileSync(join(KEYS, pub), "utf8").split(" ")[1], "base64");
const CLIENT_KEY = readFileSync(join(KEYS, "client"), "utf8");
const PIGLET = { address: "k3s-vm-piglet.maas", port: 22, user: "root" };

describe("SSH refusals name the cause and the fix", () => {
  it("fingerprints as ssh-keygen -lf does", () => {
    // `ssh-keygen -lf lab/keys/piglet_ed25519.pub` and `... client.pub` print these.
    assert.strictEqual(
      fingerprint(blobOf("piglet_ed25519.pub")),
      "SHA256:DkGnXU102Qm/wnduwuAaeaonRZHJxQiH7yuRAjxKGnE",
    );
    assert.strictEqual(
      clientKeyFingerprint(CLIENT_KEY),
      "SHA256:4qkH9qpgMqT9Vr9s0OLuREQumxNiDGnbEcRs3M5B4f4",
    );
    assert.strictEqual(clientKeyFingerprint("not a key"), undefined);
  });

  it("a changed host key: both fingerprints, how to check and pin the new one (exact text)", () => {
    assert.strictEqual(
      hostKeyChanged(
        { ...PIGLET, port: 2222 },
        "ssh-ed25519",
        blobOf("piglet_ed25519.pub"),
        blobOf("client.pub"),
      ),
      "its host key changed: it presents ssh-ed25519 SHA256:DkGnXU102Qm/wnduwuAaeaonRZHJxQiH7yuRAjxKGnE, the stack's hostKey pins SHA256:4qkH9qpgMqT9Vr9s0OLuREQumxNiDGnbEcRs3M5B4f4, refusing to connect. If it was reinstalled or its host keys regenerated, compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console, then put the output of `ssh-keyscan -t ed25519 -p 2222 k3s-vm-piglet.maas` into its hostKey in the stack file; if not, something may be between you and it",
    );
  });

  it("names the host key file and keyscan type of the pinned key's type", () => {
    const blob = blobOf("piglet_ed25519.pub");
    for (const [type, short] of [
      ["ssh-rsa", "rsa"],
      ["ecdsa-sha2-nistp256", "ecdsa"],
    ]) {
      const text = hostKeyChanged(PIGLET, type, blob, blob);
      assert.ok(text.includes(`\`ssh-keygen -lf /etc/ssh/ssh_host_${short}_key.pub\``), text);
      assert.ok(text.includes(`\`ssh-keyscan -t ${short} k3s-vm-piglet.maas\``), text);
      assert.ok(text.startsWith(`its host key changed: it presents ${type} SHA256:`), text);
    }
  });

  it("a refused client key: the user, the key's fingerprint, where to add it (exact text)", () => {
    assert.strictEqual(
      keyRefused({ ...PIGLET, user: "ops" }, "SHA256:abc"),
      "it refuses our SSH key (user ops, key SHA256:abc, the secret sshPrivateKey): add its public key to /home/ops/.ssh/authorized_keys there (`ssh-copy-id -i KEY.pub ops@k3s-vm-piglet.maas`), or set the key it accepts with `pulumi config set --secret sshPrivateKey < KEY`",
    );
  });
});

describe("runRemoteScript against an SSH server on loopback", () => {
  const serverKey = utils.generateKeyPairSync("ed25519");
  let server: Server;
  let port = 0;
  let acceptClient = true;

  before(async () => {
    server = new Server({ hostKeys: [serverKey.private] }, (client) => {
      client.on("authentication", (ctx) =>
        ctx.method === "publickey" && acceptClient ? ctx.accept() : ctx.reject(["publickey"]),
      );
      client.on("ready", () =>
        client.on("session", (accept) =>
          accept().on("exec", (acceptExec) => {
            const stream = acceptExec();
            stream.write("ran\n");
            stream.exit(0);
            stream.end();
          }),
        ),
      );
      client.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  const endpoint = (hostKey: string) => ({
    name: "k3s-vm-piglet",
    address: "127.0.0.1",
    port,
    user: "root",
    hostKey,
  });
  const served = () => serverKey.public.split(" ").slice(0, 2).join(" ");

  it("runs with the pinned key", async () => {
    acceptClient = true;
    const run = await runRemoteScript(endpoint(served()), CLIENT_KEY, "true", 5000);
    assert.deepStrictEqual(run, { code: 0, stdout: "ran\n", stderr: "" });
  });

  it("refuses a server whose key is not the pinned one, naming the machine and both keys", async () => {
    acceptClient = true;
    const pinned = readFileSync(join(KEYS, "piglet_ed25519.pub"), "utf8")
      .split(" ")
      .slice(0, 2)
      .join(" ");
    const presented = fingerprint(Buffer.from(served().split(" ")[1], "base64"));
    await assert.rejects(
      runRemoteScript(endpoint(pinned), CLIENT_KEY, "true", 5000),
      (error: Error) => {
        assert.ok(error instanceof ProbeError);
        assert.ok(
          error.message.startsWith(
            `k3s-vm-piglet: its host key changed: it presents ssh-ed25519 ${presented}, the stack's hostKey pins SHA256:DkGnXU102Qm/wnduwuAaeaonRZHJxQiH7yuRAjxKGnE, refusing to connect.`,
          ),
          error.message,
        );
        return true;
      },
    );
  });

  it("names our key when the server accepts none of them", async () => {
    acceptClient = false;
    await assert.rejects(
      runRemoteScript(endpoint(served()), CLIENT_KEY, "true", 5000),
      (error: Error) => {
        assert.ok(
          error.message.startsWith(
            "k3s-vm-piglet: it refuses our SSH key (user root, key SHA256:4qkH9qpgMqT9Vr9s0OLuREQumxNiDGnbEcRs3M5B4f4, the secret sshPrivateKey)",
          ),
          error.message,
        );
        return true;
      },
    );
  });
});
