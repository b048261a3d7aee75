import * as assert from "assert";
import { readFileSync } from "fs";
import { join } from "path";
import { parseFioJson } from "../../doctor/fio";
import { parseFioRun } from "../../doctor/readings";

/** Produced here with Debian 12's fio 3.33: etcd's check on an ext4 directory under /tmp. */
const REAL = readFileSync(join(__dirname, "doctor-fixtures", "fio-3.33-debian12.json"), "utf8");

describe("doctor: fio JSON", () => {
  it("reads fdatasync percentiles of a real Debian fio run", () => {
    assert.deepStrictEqual(parseFioJson(REAL), {
      fioVersion: "fio-3.33",
      syncP50Ms: 0.134144,
      syncP99Ms: 0.272384,
      syncMaxMs: 8.449975,
      syncs: 10029,
      writtenBytes: 23066700,
      writeIops: 6892.783505,
      runtimeMs: 1454,
    });
  });

  it("refuses output that would read as a fast disk", () => {
    const doc = JSON.parse(REAL);
    assert.throws(() => parseFioJson("fio: oops"), /not JSON/);
    assert.throws(() => parseFioJson(JSON.stringify({ jobs: [] })), /exactly one job/);
    const failed = structuredClone(doc);
    failed.jobs[0].error = 5;
    assert.throws(() => parseFioJson(JSON.stringify(failed)), /failed with error 5/);
    const noSync = structuredClone(doc);
    noSync.jobs[0].sync.lat_ns.N = 0;
    assert.throws(() => parseFioJson(JSON.stringify(noSync)), /no fdatasync was measured/);
    const noP99 = structuredClone(doc);
    delete noP99.jobs[0].sync.lat_ns.percentile["99.000000"];
    assert.throws(() => parseFioJson(JSON.stringify(noP99)), /no 99th percentile/);
  });

  it("reads the fio script's sections: result, file system, removal", () => {
    const out = (fio: string, extra: string[] = []) =>
      [
        "",
        "@@ fio-ready",
        "ready",
        "",
        "@@ fs",
        "ext4 /dev/sda1",
        "",
        "@@ fio-exit",
        "0",
        "",
        "@@ fio-stderr",
        "",
        "@@ fio",
        fio,
        ...extra,
        "",
        "@@ removed",
        "yes",
        "",
      ].join("\n");
    const measured = parseFioRun(out(REAL));
    assert.strictEqual(measured.kind, "measured");
    assert.ok(
      measured.kind === "measured" && measured.removed && measured.fileSystem === "ext4 /dev/sda1",
    );
    assert.deepStrictEqual(parseFioRun("\n@@ fio-ready\n!no-fio\n"), {
      kind: "not-run",
      reason: "fio is not installed on the node (apt install fio)",
      verdictHint: "warn",
    });
    assert.deepStrictEqual(parseFioRun("\n@@ fio-ready\n!no-space 1024\n"), {
      kind: "not-run",
      reason: "too little free space next to etcd's data (1024 KiB)",
      verdictHint: "warn",
    });
    const crashed = out(REAL)
      .replace("@@ fio-exit\n0", "@@ fio-exit\n1")
      .replace(
        "@@ fio-stderr\n",
        "@@ fio-stderr\nfio: pid=1, err=28/file:io_u.c:1845, func=io_u error, error=No space left on device\n",
      );
    assert.deepStrictEqual(parseFioRun(crashed), {
      kind: "not-run",
      reason:
        "fio exited with 1: fio: pid=1, err=28/file:io_u.c:1845, func=io_u error, error=No space left on device",
      verdictHint: "fail",
    });
  });
});
