// What a real K3s node and its systemd do that the program must survive: install-time flags and
// env that the installer drops when it runs again, a unit that never signals READY (Type=notify,
// TimeoutStartSec=0), and a guest whose systemctl prints its local zone (AEDT).
import * as assert from "assert";
import {
  eventMark,
  eventsSince,
  fixtureWith,
  labDown,
  labUp,
  onHost,
  requireLabMachine,
  stackFileWith,
  Workspace,
} from "./harness";
import { labHostKey } from "./postCluster";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

/** The post's cluster with every etcd disk already tuned, so each node's roll restarts only K3s
 * (the restart step reads when the unit started, and restarts it itself). */
function tunedFixture(name: string, edit: (f: Doc) => void = () => undefined): string {
  return fixtureWith(name, (f) => {
    f.guests.forEach((g: Doc) => {
      g.vm.scsi0 = `local-zfs:vm-${g.vmid}-disk-0,cache=writeback,iothread=1,size=64G`;
    });
    edit(f);
  });
}

const ALL = ["pve", "piglet", "fawn", "k3s-vm-pve", "k3s-vm-piglet", "k3s-vm-fawn"];
const PVE = { address: "127.0.0.21", name: "k3s-vm-pve" };
const PIGLET = { address: "127.0.0.22", name: "k3s-vm-piglet" };
const FAWN = { address: "127.0.0.23", name: "k3s-vm-fawn" };

function on(node: { address: string; name: string }, command: string): string {
  const run = onHost(node.address, labHostKey(node.name), command);
  assert.strictEqual(run.status, 0, `${node.name}: ${command}\n${run.output}`);
  return run.stdout.trim();
}

describe("e2e: real K3s and systemd (install-time flags, READY, time zones)", function () {
  this.timeout(30 * 60 * 1000);

  before(function () {
    requireLabMachine(this);
  });

  describe("a server installed with flags and a proxy, guests in Sydney and Guam", () => {
    // k3s-vm-piglet is in Sydney (post.yaml); k3s-vm-fawn in Guam, whose zone systemd prints as
    // ChST, which GNU date cannot read even there (it reads AEDT in Sydney).
    before(() =>
      labUp(
        tunedFixture("real-k3s", (f) => {
          f.guests.find((g: Doc) => g.name === FAWN.name).timezone = "Pacific/Guam";
        }),
      ),
    );
    after(() => labDown());

    it("refuses at preview a flag the stack does not carry, naming node, flag and fix; changes nothing", async () => {
      // The stack without what k3s-vm-pve was installed with.
      const bare = stackFileWith(
        "no-flags",
        (c) => delete c["k3s-homelab:nodes"]["k3s-vm-pve"].config,
      );
      const mark = eventMark();
      const run = await new Workspace("e2e-flags", "lab", bare).preview();
      assert.strictEqual(run.status, 1, run.output);
      assert.match(
        run.output,
        /node `k3s-vm-pve`: installed with `--node-ip=198\.18\.0\.21` \(k3s\.service ExecStart\); re-running the installer drops it: add `node-ip: 198\.18\.0\.21` to the node's `config` in the stack/,
      );
      assert.match(
        run.output,
        /node `k3s-vm-pve`: installed with `--tls-san=k3s\.lab\.example` \(k3s\.service ExecStart\); re-running the installer drops it: add `tls-san: \[k3s\.lab\.example\]` to the node's `config` in the stack/,
      );
      assert.doesNotMatch(run.output, /proxy\.lab\.example/, "a proxy value was printed");
      assert.deepStrictEqual(
        eventsSince(mark).filter((e) => e.mutating && ALL.includes(e.host)),
        [],
      );
      assert.match(on(PVE, "systemctl show -p ExecStart --value k3s"), /--node-ip=198\.18\.0\.21/);
    });

    it("with the flags in the stack the roll converges; they survive the reinstall, the proxy env is carried over, the guests in Sydney and Guam restart", async () => {
      const ws = new Workspace("e2e-real-k3s");
      const run = await ws.up();
      assert.strictEqual(run.status, 0, run.output);
      // install.sh rewrote the unit from its own arguments: the flags are gone from ExecStart...
      assert.doesNotMatch(on(PVE, "systemctl show -p ExecStart --value k3s"), /--node-ip/);
      // ...and live on in config.yaml, so K3s still registers the node with its address.
      const config = on(PVE, "cat /etc/rancher/k3s/config.yaml");
      assert.match(config, /^node-ip: 198\.18\.0\.21$/m);
      assert.match(config, /^tls-san:\n {2}- k3s\.lab\.example$/m);
      assert.strictEqual(
        on(
          PVE,
          `k3s kubectl get node k3s-vm-pve -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address} {.status.nodeInfo.kubeletVersion}'`,
        ),
        "198.18.0.21 v1.33.6+k3s1",
      );
      // The proxy settings the owner installed with are in the new env file again.
      const env = on(PVE, "cat /etc/systemd/system/k3s.service.env");
      assert.match(env, /^HTTP_PROXY='http:\/\/proxy\.lab\.example:3128'$/m);
      assert.match(env, /^NO_PROXY='127\.0\.0\.0\/8,198\.18\.0\.0\/24,/m);
      // The guests' systemctl speaks AEDT and ChST; their restart steps read the time anyway.
      assert.match(on(PIGLET, "systemctl show -p ActiveEnterTimestamp --value k3s"), / AE[DS]T$/);
      assert.match(on(FAWN, "systemctl show -p ActiveEnterTimestamp --value k3s"), / ChST$/);
      for (const node of [PIGLET, FAWN]) {
        assert.match(
          run.output,
          new RegExp(`${node.name}: restarting k3s: its binary or config changed after it started`),
        );
        assert.strictEqual(
          on(
            PVE,
            `k3s kubectl get node ${node.name} -o jsonpath='{.status.nodeInfo.kubeletVersion}'`,
          ),
          "v1.33.6+k3s1",
        );
      }
      const again = await ws.preview();
      assert.strictEqual(again.status, 0, again.output);
    });
  });

  describe("a server restarted while quorum is lost", () => {
    before(() => labUp(tunedFixture("real-k3s-quorum")));
    after(() => labDown());

    it("fails at the gate's timeout with a clear line instead of hanging; later nodes untouched", async () => {
      const stack = stackFileWith(
        "quorum-gate",
        (c) => (c["k3s-homelab:cluster"].gateTimeoutSeconds = 30),
      );
      const ws = new Workspace("e2e-no-quorum", "lab", stack);
      const mark = eventMark();
      // While k3s-vm-pve's new K3s is installed (after its cluster check), the two other servers
      // go down: its restarted etcd member finds no quorum and K3s never signals READY.
      let stopped = false;
      const watcher = setInterval(() => {
        if (stopped) return;
        const installing = eventsSince(mark).some(
          (e) => e.host === PVE.name && e.tool === "installer" && e.action === "install-result",
        );
        if (!installing) return;
        stopped = true;
        for (const node of [PIGLET, FAWN]) {
          on(node, "systemctl stop k3s");
        }
      }, 200);
      const begin = Date.now();
      const limit = 6 * 60 * 1000;
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<"hung">(
        (resolve) => (timer = setTimeout(() => resolve("hung"), limit)),
      );
      try {
        const result = await Promise.race([ws.up(), hung]);
        assert.notStrictEqual(
          result,
          "hung",
          `pulumi up still runs after ${limit / 1000}s: the restart hangs`,
        );
        if (result === "hung") return;
        assert.ok(stopped, "the other servers were never stopped");
        assert.strictEqual(result.status, 1, result.output);
        assert.match(
          result.output,
          /k3s-vm-pve: FAILED: k3s did not signal READY within 30s \(ActiveState=activating SubState=start\)/,
        );
        assert.ok(Date.now() - begin < 5 * 60 * 1000, "up took longer than the gates allow");
        const later = eventsSince(mark).filter(
          (e) =>
            e.mutating &&
            ["piglet", "fawn", "k3s-vm-piglet", "k3s-vm-fawn"].includes(e.host) &&
            !(e.tool === "systemctl" && e.action === "stop"), // the test's own stops
        );
        assert.deepStrictEqual(later, [], "a later node was rolled");
      } finally {
        clearInterval(watcher);
        clearTimeout(timer);
      }
    });
  });
});
