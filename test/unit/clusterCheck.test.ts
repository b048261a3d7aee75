import * as assert from "assert";
import { spawnSync } from "child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { renderClusterCheckScript, RollTarget } from "../../render";

/** Stubs of what the cluster check calls: `curl` answers K3s's etcd endpoints (the JSON gateway
 * on 127.0.0.1:2382 and 2381/health) from files and refuses every other URL; `k3s kubectl` prints
 * the EtcdIsVoter lines of round N from conds.N (the last one repeats) and the Ready lines;
 * `date` advances 10 s per call and `sleep` returns at once, so the 45 s bound is reached fast. */
const STUBS: Record<string, string> = {
  curl: `#!/bin/sh
for a in "$@"; do url=$a; done
echo "$url" >> "$D/urls"
case "$url" in
  https://127.0.0.1:2382/v3/cluster/member/list) [ -s "$D/members" ] || exit 22; cat "$D/members" ;;
  https://127.0.0.1:2382/v3/maintenance/status) cat "$D/status" ;;
  http://127.0.0.1:2381/health) cat "$D/health" ;;
  *) exit 7 ;;
esac
`,
  k3s: `#!/bin/sh
case "$*" in
  *EtcdIsVoter*) n=$(cat "$D/round"); echo $((n + 1)) > "$D/round"
    f="$D/conds.$n"; [ -f "$f" ] || f=$(ls "$D"/conds.* | sort -t. -k2 -n | tail -n 1); cat "$f" ;;
  *) cat "$D/ready" ;;
esac
`,
  date: `#!/bin/sh
t=$(cat "$D/clock"); echo $((t + 10)) > "$D/clock"; echo "$t"
`,
  sleep: "#!/bin/sh\n",
};

const TARGET: RollTarget = {
  node: "k3s-vm-pve",
  nodeName: "k3s-vm-pve",
  role: "server",
  k3sVersion: "v1.33.6+k3s1",
  fingerprint: "f00",
};

/** The member list as etcd's gateway prints it (isLearner only when true). */
function members(...m: [string, string, boolean?][]): string {
  const list = m.map(
    ([id, name, learner]) =>
      `{"ID":"${id}",${name ? `"name":"${name}",` : ""}"peerURLs":["https://10.0.0.${id}:2380"]${name ? `,"clientURLs":["https://10.0.0.${id}:2379"]` : ""}${learner ? ',"isLearner":true' : ""}}`,
  );
  return `{"header":{"cluster_id":"9","member_id":"21","raft_term":"2"},"members":[${list.join(",")}]}`;
}

const THREE = members(
  ["21", "k3s-vm-pve-0a1b2c3d"],
  ["22", "k3s-vm-piglet-1a2b3c4d"],
  ["23", "k3s-vm-fawn-2a3b4c5d"],
);
const STATUS = '{"header":{"member_id":"21"},"version":"3.5.33","leader":"22"}';
const VOTERS = "k3s-vm-pve True MemberNotLearner\nk3s-vm-piglet True MemberNotLearner\n";

function run(opts: {
  members?: string;
  conds: string[];
  health?: string;
  status?: string;
  ready?: string;
  target?: RollTarget;
  batchMates?: string[];
}) {
  const D = mkdtempSync(join(tmpdir(), "k3s-homelab-check-"));
  for (const [name, text] of Object.entries(STUBS)) {
    writeFileSync(join(D, name), text);
    chmodSync(join(D, name), 0o755);
  }
  writeFileSync(join(D, "members"), opts.members ?? THREE);
  writeFileSync(join(D, "status"), opts.status ?? STATUS);
  writeFileSync(join(D, "health"), opts.health ?? '{"health":"true","reason":""}');
  opts.conds.forEach((c, i) => writeFileSync(join(D, `conds.${i}`), c));
  writeFileSync(
    join(D, "ready"),
    opts.ready ?? "k3s-vm-pve=True\nk3s-vm-piglet=True\nk3s-vm-fawn=True\n",
  );
  writeFileSync(join(D, "round"), "0");
  writeFileSync(join(D, "clock"), "1000");
  writeFileSync(join(D, "urls"), "");
  return spawnSync("sh", ["-c", renderClusterCheckScript(opts.target ?? TARGET, opts.batchMates)], {
    encoding: "utf8",
    env: { PATH: `${D}:/usr/bin:/bin`, D },
  });
}

describe("cluster check, run against curl/k3s stubs", () => {
  it("passes when this member is healthy and every other voter's EtcdIsVoter is True", () => {
    const r = run({ conds: [VOTERS + "k3s-vm-fawn True MemberNotLearner\n"] });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(
      r.stdout,
      "k3s-vm-pve: cluster healthy: 3/3 voting etcd members, leader 22, all nodes Ready\n",
    );
  });

  it("refuses, after waiting with progress lines, while a member stays Unhealthy", () => {
    const r = run({ conds: [VOTERS + "k3s-vm-fawn False Unhealthy\n"] });
    assert.strictEqual(r.status, 1);
    assert.strictEqual(
      r.stdout,
      "k3s-vm-pve: waiting for etcd (20s): k3s-vm-fawn-2a3b4c5d: EtcdIsVoter=False (Unhealthy)\n" +
        "k3s-vm-pve: waiting for etcd (40s): k3s-vm-fawn-2a3b4c5d: EtcdIsVoter=False (Unhealthy)\n",
    );
    assert.strictEqual(
      r.stderr,
      "k3s-vm-pve: FAILED: etcd not healthy after 50s: k3s-vm-fawn-2a3b4c5d: EtcdIsVoter=False (Unhealthy); refusing to restart k3s-vm-pve\n",
    );
  });

  it("passes once K3s's next tick sets a member that came back to True", () => {
    const r = run({
      conds: [
        VOTERS + "k3s-vm-fawn False Unhealthy\n",
        VOTERS + "k3s-vm-fawn True MemberNotLearner\n",
      ],
    });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /cluster healthy: 3\/3 voting etcd members, leader 22/);
  });

  it("never counts a learner as a voter, and names it", () => {
    const r = run({
      members: members(
        ["21", "k3s-vm-pve-0a1b2c3d"],
        ["22", "k3s-vm-piglet-1a2b3c4d"],
        ["23", "k3s-vm-fawn-2a3b4c5d", true],
      ),
      conds: [VOTERS + "k3s-vm-fawn False MemberIsLearner\n"],
    });
    assert.strictEqual(r.status, 1);
    assert.match(
      r.stderr,
      /FAILED: etcd not healthy after 50s: k3s-vm-fawn-2a3b4c5d is a learner \(K3s has not promoted it to a voting member yet\); refusing/,
    );
  });

  it("counts a member without a Node (stale) as unhealthy", () => {
    const r = run({
      members: members(
        ["21", "k3s-vm-pve-0a1b2c3d"],
        ["22", "k3s-vm-piglet-1a2b3c4d"],
        ["23", "k3s-vm-fawn-2a3b4c5d"],
        ["24", "old-server-3a4b5c6d"],
      ),
      conds: [VOTERS + "k3s-vm-fawn True MemberNotLearner\n"],
    });
    assert.strictEqual(r.status, 1);
    assert.match(
      r.stderr,
      /etcd not healthy after 50s: old-server-3a4b5c6d has no Node `old-server` \(a stale member still votes\)/,
    );
  });

  it("reads this member's health only on its own 127.0.0.1:2381", () => {
    const r = run({
      conds: [VOTERS + "k3s-vm-fawn True MemberNotLearner\n"],
      health: '{"health":"false","reason":"NOSPACE"}',
    });
    assert.strictEqual(r.status, 1);
    assert.match(
      r.stderr,
      /k3s-vm-pve-0a1b2c3d \(this server\) does not answer healthy on 127\.0\.0\.1:2381\/health/,
    );
  });

  it("refuses at once when the member list does not answer on 2382", () => {
    const r = run({ conds: [VOTERS], members: "" });
    assert.strictEqual(r.status, 1);
    assert.strictEqual(
      r.stderr,
      "k3s-vm-pve: FAILED: etcd's member list does not answer on 127.0.0.1:2382 (K3s's client certificate in /var/lib/rancher/k3s/server/tls/etcd)\n",
    );
  });
});

describe("cluster check of a node rolled in a batch (cluster.roll.agentBatch)", () => {
  const AGENT: RollTarget = { ...TARGET, node: "agent-1", nodeName: "agent-1", role: "agent" };
  const HEALTHY = [VOTERS + "k3s-vm-fawn True MemberNotLearner\n"];
  const SERVERS_READY = "k3s-vm-pve=True\nk3s-vm-piglet=True\nk3s-vm-fawn=True\n";
  const batch = (ready: string) =>
    run({ conds: HEALTHY, target: AGENT, batchMates: ["agent-2", "agent-3"], ready });

  it("lets its batch-mates be down, and says which are", () => {
    const r = batch(SERVERS_READY + "agent-1=True\nagent-2=Unknown\nagent-3=True\nagent-4=True\n");
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(
      r.stdout,
      "agent-1: cluster healthy: 3/3 voting etcd members, leader 22, all nodes Ready but batch-mates rolling beside agent-1 (agent-2, agent-3; not Ready now: agent-2=Unknown)\n",
    );
  });

  it("passes with every node Ready, saying no batch-mate is down", () => {
    const r = batch(SERVERS_READY + "agent-1=True\nagent-2=True\nagent-3=True\n");
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /\(agent-2, agent-3; not Ready now: none\)\n$/);
  });

  it("refuses any other node down: itself, an agent of another batch, a name that only starts like a mate's", () => {
    for (const down of ["agent-1=False", "agent-4=Unknown", "agent-22=False", "agent=False"]) {
      const r = batch(SERVERS_READY + `agent-2=False\nagent-3=False\n${down}\n`);
      assert.strictEqual(r.status, 1, down);
      assert.strictEqual(
        r.stderr,
        `agent-1: FAILED: nodes not Ready: ${down}; refusing to restart agent-1\n`,
      );
    }
  });

  it("without batch-mates still refuses every node down", () => {
    const r = run({
      conds: HEALTHY,
      target: AGENT,
      ready: SERVERS_READY + "agent-1=True\nagent-2=Unknown\n",
    });
    assert.strictEqual(r.status, 1);
    assert.strictEqual(
      r.stderr,
      "agent-1: FAILED: nodes not Ready: agent-2=Unknown; refusing to restart agent-1\n",
    );
  });
});
