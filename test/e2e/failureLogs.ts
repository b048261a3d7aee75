// A mocha root hook (`--require test/e2e/failureLogs.ts`): when an e2e test fails, print what the
// lab's guests logged last (each k3s service's last lines, each etcd member's last warnings) and
// keep a copy of every lab log under .state/failed-logs/, so a failure seen only in CI says why;
// the same lines go into the test's error, printed again in the failure list at the run's end.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "fs";
import { join } from "path";
import { REPO } from "../../lab/run";

const LOGS = join(REPO, ".lab", "shared", "logs");
/** Where `lab down --keep-logs` (every test's labDown) keeps them: a suite's own afterEach may
 * have taken the lab down before this root hook runs. */
const KEPT_LOGS = join(REPO, ".lab", "last-run", "logs");
const K3S_LINES = 6;
const ETCD_LINES = 4;
const WIDTH = 300;

/** etcd logs JSON lines; its warnings and worse say why a member is unhealthy. */
const ETCD_TROUBLE = /"level":"(warn|error|fatal|panic)"/;

function tail(file: string, count: number, keep: (line: string) => boolean = () => true): string[] {
  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && keep(l));
  return lines.slice(-count).map((l) => (l.length > WIDTH ? `${l.slice(0, WIDTH)}…` : l));
}

/** The lines a failed test prints: per guest log file, its last lines worth reading. */
export function labLogSummary(logsDir: string): string[] {
  if (!existsSync(logsDir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(logsDir).sort()) {
    const file = join(logsDir, name);
    const picked = /-k3s(-agent)?\.log$/.test(name)
      ? tail(file, K3S_LINES)
      : name.endsWith("-etcd.log")
        ? tail(file, ETCD_LINES, (l) => ETCD_TROUBLE.test(l))
        : [];
    if (picked.length > 0) out.push(`  ${name}:`, ...picked.map((l) => `    ${l}`));
  }
  return out;
}

function slug(title: string): string {
  return title.replace(/[^A-Za-z0-9]+/g, "-").slice(0, 80);
}

let testStarted = 0;

/** The running lab's logs, else those a lab down kept during this test; none from before it. */
function logsOfThisTest(): string | undefined {
  if (existsSync(LOGS)) return LOGS;
  if (existsSync(KEPT_LOGS) && statSync(KEPT_LOGS).mtimeMs >= testStarted) return KEPT_LOGS;
  return undefined;
}

export const mochaHooks = {
  beforeEach(): void {
    testStarted = Date.now();
  },
  afterEach(this: Mocha.Context): void {
    const test = this.currentTest;
    const logs = logsOfThisTest();
    if (test?.state !== "failed" || logs === undefined) return;
    const copy = join(REPO, ".state", "failed-logs", `${Date.now()}-${slug(test.title)}`);
    mkdirSync(copy, { recursive: true });
    cpSync(logs, copy, { recursive: true });
    const summary = [`    the lab's logs when "${test.title}" failed (all of them in ${copy}):`]
      .concat(labLogSummary(logs))
      .join("\n");
    console.log(summary);
    // The failure list at the end of a run is what a CI log's tail keeps: it says why there too.
    // Mocha prints the stack's lines before its first frame as the message.
    const err = (test as { err?: Error }).err;
    if (err === undefined) return;
    const message = err.message;
    err.message = `${message}\n${summary}`;
    if (err.stack?.includes(message)) err.stack = err.stack.replace(message, err.message);
  },
};
