import * as assert from "assert";
import { spawnSync } from "child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { renderPrepareScript, RollTarget } from "../../render";

/**
 * The prepare step run for real (bash) against a minimal `k3s` and `systemctl`, with /etc behind
 * a private overlay in its own mount namespace, so the config.yaml it writes never reaches this
 * machine's /etc. The `k3s etcd-snapshot` stub does what K3s's `Snapshot()` does
 * (k3s-io/k3s pkg/etcd/snapshot.go): on a learner it returns without error and writes nothing;
 * `save --name N` adds `N-<node>-<unix time>`; `ls` lists name and location; `delete` removes.
 */
const K3S_STUB = `#!/bin/sh
D="$STUB_DIR"
case "$1 \${2:-}" in
  "--version "*) echo "k3s version v1.33.6+k3s1 (b5b4e8f6)"; echo "go version go1.24.11" ;;
  "etcd-snapshot ls") echo "Name Location Size Created"; cat "$D/snapshots" ;;
  "etcd-snapshot save")
    [ "$(cat "$D/mode")" = learner ] && { echo "level=warning msg=\\"Skipping snapshot: not supported for learner\\""; exit 0; }
    [ "$(cat "$D/mode")" = fail ] && { echo "level=fatal msg=\\"etcdserver: request timed out\\"" >&2; exit 1; }
    n="$4-k3s-vm-fawn-$(( $(wc -l < "$D/snapshots") + 1700000000 ))"
    echo "$n file:///var/lib/rancher/k3s/server/db/snapshots/$n 4194336 2026-12-01T20:00:00Z" >> "$D/snapshots" ;;
  "etcd-snapshot delete") shift 2; for n in "$@"; do grep -v "^$n " "$D/snapshots" > "$D/s2"; mv "$D/s2" "$D/snapshots"; echo "$n" >> "$D/deleted"; done ;;
  *) echo "unexpected k3s $*" >&2; exit 99 ;;
esac
`;
const SYSTEMCTL_STUB = `#!/bin/sh
[ "$1 $2" = "is-active -q" ] && exit 0
echo "unexpected systemctl $*" >&2; exit 99
`;

const TARGET: RollTarget = {
  node: "k3s-vm-fawn",
  nodeName: "k3s-vm-fawn",
  role: "server",
  k3sVersion: "v1.33.6+k3s1",
  fingerprint: "0123456789abcdef",
};
const OLD_CONFIG = "# the config the node runs with\nserver: https://10.0.0.21:6443\n";
const NEW_CONFIG = "server: https://10.0.0.21:6443\nsecrets-encryption: true\n";

function runPrepare(mode: "ok" | "learner" | "fail", snapshots: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), "k3s-homelab-prepare-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const [name, text] of [
    ["k3s", K3S_STUB],
    ["systemctl", SYSTEMCTL_STUB],
  ]) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  writeFileSync(join(dir, "mode"), mode);
  writeFileSync(join(dir, "snapshots"), snapshots.map((s) => `${s}\n`).join(""));
  writeFileSync(join(dir, "deleted"), "");
  writeFileSync(join(dir, "old-config"), OLD_CONFIG);
  writeFileSync(join(dir, "script.sh"), renderPrepareScript(TARGET, NEW_CONFIG, "x", false));
  for (const d of ["upper", "work", "out"]) mkdirSync(join(dir, d));
  // Inside a private mount namespace: /etc is an overlay whose writes land in dir/upper.
  const inside = [
    "set -e",
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${dir}/upper,workdir=${dir}/work /etc`,
    "mkdir -p /etc/rancher/k3s",
    `cp ${dir}/old-config /etc/rancher/k3s/config.yaml`,
    "set +e",
    `bash ${dir}/script.sh > ${dir}/out/stdout 2> ${dir}/out/stderr; echo $? > ${dir}/out/rc`,
    `cat /etc/rancher/k3s/config.yaml > ${dir}/out/config`,
    `ls -A /etc/rancher/k3s > ${dir}/out/files`,
  ].join("\n");
  const run = spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", inside], {
    encoding: "utf8",
    env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, STUB_DIR: dir },
  });
  assert.strictEqual(run.status, 0, `sandbox failed: ${run.stderr}`);
  const out = (f: string) => readFileSync(join(dir, "out", f), "utf8");
  return {
    rc: Number(out("rc")),
    stdout: out("stdout"),
    stderr: out("stderr"),
    config: out("config"),
    files: out("files").trim().split("\n"),
    snapshots: readFileSync(join(dir, "snapshots"), "utf8").trim().split("\n").filter(Boolean),
    deleted: readFileSync(join(dir, "deleted"), "utf8").trim().split("\n").filter(Boolean),
  };
}

describe("prepare step: snapshot first, then change", function () {
  before(function () {
    if (process.getuid?.() === 0) return;
    if (process.env.CI === "true") throw new Error("this test needs root (a mount namespace)");
    this.skip();
  });

  it("a save that wrote nothing (a learner) fails and leaves config.yaml as it was", () => {
    const r = runPrepare("learner");
    assert.strictEqual(r.rc, 1, r.stdout + r.stderr);
    assert.strictEqual(
      r.stderr,
      "k3s-vm-fawn: FAILED: k3s etcd-snapshot save exited 0 but no new snapshot is listed (K3s skips the snapshot on an etcd learner member: is this server still being promoted?); nothing was changed on this node\n",
    );
    assert.strictEqual(r.config, OLD_CONFIG);
    assert.deepStrictEqual(r.files, ["config.yaml"], "no staged file is left behind");
    assert.ok(!r.stdout.includes("record config changed"), r.stdout);
  });

  it("a failed save names K3s's last line and leaves config.yaml as it was", () => {
    const r = runPrepare("fail");
    assert.strictEqual(r.rc, 1);
    assert.strictEqual(
      r.stderr,
      'k3s-vm-fawn: FAILED: k3s etcd-snapshot save failed (level=fatal msg="etcdserver: request timed out"); nothing was changed on this node\n',
    );
    assert.strictEqual(r.config, OLD_CONFIG);
    assert.deepStrictEqual(r.files, ["config.yaml"]);
  });

  it("snapshots, then writes config.yaml, and keeps only this tool's newest five snapshots", () => {
    const ours = (t: number) =>
      `k3s-homelab-pre-upgrade-x-k3s-vm-fawn-${t} file:///s/k3s-homelab-pre-upgrade-x-k3s-vm-fawn-${t} 1 x`;
    const theirs = "etcd-snapshot-k3s-vm-fawn-1600000000 file:///s/etcd-snapshot 1 x";
    const r = runPrepare("ok", [ours(1690000001), ours(1690000002), theirs, ours(1690000003)]);
    assert.strictEqual(r.rc, 0, r.stderr);
    assert.strictEqual(r.config, NEW_CONFIG);
    assert.deepStrictEqual(r.files, ["config.yaml"]);
    const name = "k3s-homelab-pre-config-change-k3s-vm-fawn-1700000004";
    assert.ok(
      r.stdout.includes(
        `k3s-vm-fawn: snapshot: ${name} at file:///var/lib/rancher/k3s/server/db/snapshots/${name}\n`,
      ),
      r.stdout,
    );
    assert.ok(r.stdout.indexOf("snapshot:") < r.stdout.indexOf("wrote /etc/rancher"), r.stdout);
    assert.deepStrictEqual(r.deleted, [], "four of ours and one new: nothing to delete yet");
    const again = runPrepare(
      "ok",
      [1690000001, 1690000002, 1690000003, 1690000004, 1690000005].map(ours).concat(theirs),
    );
    assert.strictEqual(again.rc, 0, again.stderr);
    assert.deepStrictEqual(again.deleted, ["k3s-homelab-pre-upgrade-x-k3s-vm-fawn-1690000001"]);
    assert.ok(again.snapshots.includes(theirs), "snapshots K3s took itself are left alone");
  });
});
