import * as assert from "assert";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { labLogSummary } from "../e2e/failureLogs";

describe("the e2e failure hook's summary of the lab's logs", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "failure-logs-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("prints each k3s log's last lines and each etcd member's last warnings, nothing else", () => {
    const k3s = Array.from({ length: 8 }, (_, i) => `level=info msg="line ${i}"`);
    writeFileSync(join(dir, "k3s-vm-fawn-k3s.log"), k3s.join("\n") + "\n\n");
    writeFileSync(join(dir, "k3s-agent-pve-k3s-agent.log"), 'level=fatal msg="gone"\n');
    writeFileSync(
      join(dir, "k3s-vm-fawn-etcd.log"),
      [
        '{"level":"warn","msg":"old"}',
        '{"level":"info","msg":"a"}',
        '{"level":"warn","msg":"w1"}',
        '{"level":"error","msg":"e1"}',
        '{"level":"info","msg":"b"}',
        '{"level":"fatal","msg":"f1"}',
        '{"level":"panic","msg":"p1"}',
      ].join("\n"),
    );
    writeFileSync(join(dir, "k3s-vm-pve-etcd.log"), '{"level":"info","msg":"quiet"}\n');
    writeFileSync(join(dir, "pve-sshd.log"), "anything\n");
    assert.deepStrictEqual(labLogSummary(dir), [
      "  k3s-agent-pve-k3s-agent.log:",
      '    level=fatal msg="gone"',
      "  k3s-vm-fawn-etcd.log:",
      '    {"level":"warn","msg":"w1"}',
      '    {"level":"error","msg":"e1"}',
      '    {"level":"fatal","msg":"f1"}',
      '    {"level":"panic","msg":"p1"}',
      "  k3s-vm-fawn-k3s.log:",
      ...k3s.slice(2).map((l) => `    ${l}`),
    ]);
  });

  it("cuts a long line and says nothing of a lab that has no logs", () => {
    writeFileSync(join(dir, "k3s-vm-pve-k3s.log"), `${"x".repeat(350)}\n`);
    assert.deepStrictEqual(labLogSummary(dir), [
      "  k3s-vm-pve-k3s.log:",
      `    ${"x".repeat(300)}…`,
    ]);
    assert.deepStrictEqual(labLogSummary(join(dir, "absent")), []);
  });
});
