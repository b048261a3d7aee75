import * as assert from "assert";
import { spawnSync } from "child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { renderRestartScript, RollTarget } from "../../render";

/** A `systemctl` that prints what real systemd prints for these calls: timestamps in the caller's
 * zone (TZ) with its abbreviation, `@<seconds>` with --timestamp=unix (unknown before systemd
 * 248: OLD_SYSTEMD), and a --no-block job that leaves the unit in AFTER (active or activating). */
const SYSTEMCTL_STUB = `#!/bin/sh
D="$STUB_DIR"; echo "$*" >> "$D/calls"
case "$*" in *--timestamp=unix*)
  if [ -n "\${OLD_SYSTEMD:-}" ]; then echo "systemctl: unrecognized option '--timestamp=unix'" >&2; exit 1; fi ;;
esac
st=$(cat "$D/state")
case "$1" in
  is-active) [ "$st" = active ] ;;
  start|restart) echo "$AFTER" > "$D/state"; [ "$AFTER" != active ] || { echo 2000 > "$D/mono"; date +%s > "$D/since"; } ;;
  status) echo "     Active: $st" ;;
  show) case "$*" in
    *ActiveState,SubState*) sub=running; [ "$st" = activating ] && sub=start; [ "$st" = failed ] && sub=failed
      printf 'ActiveState=%s\\nSubState=%s\\nActiveEnterTimestampMonotonic=%s\\n' "$st" "$sub" "$(cat "$D/mono")" ;;
    *ActiveState,ActiveEnterTimestampMonotonic*)
      printf 'ActiveState=%s\\nActiveEnterTimestampMonotonic=%s\\n' "$st" "$(cat "$D/mono")" ;;
    *Monotonic*) cat "$D/mono" ;;
    *--timestamp=unix*) echo "@$(cat "$D/since")" ;;
    *) date -d "@$(cat "$D/since")" '+%a %Y-%m-%d %H:%M:%S %Z' ;;
  esac ;;
esac
# BOOTING: the unit's start at boot finishes right after the first look at it (READY arrives).
if [ -n "\${BOOTING:-}" ] && [ ! -e "$D/booted" ]; then
  touch "$D/booted"; echo active > "$D/state"; echo 2000 > "$D/mono"
fi
`;

const TARGET: RollTarget = {
  node: "k3s-vm-fawn",
  nodeName: "k3s-vm-fawn",
  role: "server",
  k3sVersion: "v1.33.6+k3s1",
  fingerprint: "0123456789abcdef",
};

/** Runs the restart step on a guest in `tz` whose k3s binary is newer than the unit's start. */
function runRestart(
  tz: string,
  env: Record<string, string>,
  timeoutSeconds = 30,
  initial = "active",
) {
  const dir = mkdtempSync(join(tmpdir(), "k3s-homelab-systemctl-"));
  writeFileSync(join(dir, "systemctl"), SYSTEMCTL_STUB);
  writeFileSync(join(dir, "k3s"), "#!/bin/sh\n");
  chmodSync(join(dir, "systemctl"), 0o755);
  chmodSync(join(dir, "k3s"), 0o755);
  writeFileSync(join(dir, "state"), `${initial}\n`);
  writeFileSync(join(dir, "mono"), "1000\n");
  writeFileSync(join(dir, "since"), `${Math.floor(Date.now() / 1000) - 100}\n`);
  writeFileSync(join(dir, "calls"), "");
  const result = spawnSync("sh", ["-c", renderRestartScript(TARGET, timeoutSeconds)], {
    encoding: "utf8",
    env: { PATH: `${dir}:/usr/bin:/bin`, STUB_DIR: dir, TZ: tz, AFTER: "active", ...env },
  });
  return { ...result, calls: readFileSync(join(dir, "calls"), "utf8") };
}

describe("restart script, run against a systemctl stub", () => {
  for (const tz of ["Australia/Sydney", "Pacific/Guam", "Asia/Kolkata"]) {
    it(`reads the start time on a guest in ${tz}, with and without --timestamp=unix`, () => {
      for (const env of [{}, { OLD_SYSTEMD: "1" }] as Record<string, string>[]) {
        const r = runRestart(tz, env);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /restarting k3s: its binary or config changed after it started/);
        assert.match(r.stdout, /k3s is active \(READY\) after \d+s\nrecord restarted k3s/);
        assert.match(r.calls, /^restart --no-block k3s$/m);
      }
    });
  }

  it("fails with the unit's state when READY does not come in time, instead of hanging", () => {
    const begin = Date.now();
    const r = runRestart("UTC", { AFTER: "activating" }, 4);
    assert.strictEqual(r.status, 1);
    assert.match(
      r.stderr,
      /k3s-vm-fawn: FAILED: k3s did not signal READY within 4s \(ActiveState=activating SubState=start\): a server sends it once etcd has quorum/,
    );
    assert.ok(Date.now() - begin < 15_000);
  });

  it("sees a start that finishes between its first look and its wait (an agent just after boot)", () => {
    // On the lab's agent after a VM restart the old script read "not active", then the start
    // time of the activation that had just finished, and waited 120 s for a newer one.
    const r = runRestart("UTC", { BOOTING: "1" }, 6, "activating");
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /k3s is not running \(activating\): starting it\nk3s-vm-fawn: k3s is active \(READY\) after \d+s/,
    );
  });

  it("fails at once, with the unit's last words, when the unit fails to start", () => {
    const r = runRestart("UTC", { AFTER: "failed" }, 60);
    assert.strictEqual(r.status, 1);
    assert.match(r.stderr, /k3s did not start \(ActiveState=failed SubState=failed\): failed/);
  });
});
