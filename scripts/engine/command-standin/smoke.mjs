// Smoke test of the installed command provider through the real engine: an
// Automation API inline program with command.remote.Command resources against
// the throwaway sshd that smoke.sh started. Prints one line per check.
import fs from "node:fs";
import path from "node:path";
import pulumi from "@pulumi/pulumi";
import command from "@pulumi/command";

const { LocalWorkspace } = pulumi.automation;
const T = process.env.SMOKE_DIR;
const ADDR = process.env.SMOKE_ADDR;
const PORT = Number(process.env.SMOKE_PORT);
const REMOTE = path.join(T, "remote");
const LOG = path.join(REMOTE, "log");
const pub = (f) => fs.readFileSync(f, "utf8").trim().split(" ").slice(0, 2).join(" ");
const GOOD_KEY = pub(path.join(T, "sshd", "host_ed25519.pub"));
const WRONG_KEY = pub(path.join(T, "wrong_host.pub"));
const PRIVATE_KEY = fs.readFileSync(path.join(T, "client"), "utf8");

const results = [];
function check(name, ok, detail) {
  results.push({ name, ok: !!ok });
  console.log(`${ok ? "PASS" : "FAIL"} ${name}${detail === undefined ? "" : `: ${detail}`}`);
}
const logLines = () =>
  fs.existsSync(LOG) ? fs.readFileSync(LOG, "utf8").trim().split("\n").filter(Boolean) : [];

const conn = (hostKey) => ({
  host: ADDR,
  port: PORT,
  user: "root",
  privateKey: pulumi.secret(PRIVATE_KEY),
  hostKey,
});

// What the program declares; each `up` sets it first.
let phase = {};
async function program() {
  const p = phase;
  const r1 = new command.remote.Command("r1", {
    connection: conn(GOOD_KEY),
    create:
      `cat > ${REMOTE}/r1.txt; echo "create r1 ${p.trigger} ${p.version}" >> ${LOG}; ` +
      `echo "created-${p.version} prev=[$PULUMI_COMMAND_STDOUT]"; echo err-line >&2`,
    delete: `echo "delete r1 ${p.trigger} prev=[$PULUMI_COMMAND_STDOUT]" >> ${LOG}`,
    stdin: pulumi.secret("hello-stdin\n"),
    triggers: [p.trigger],
  });
  const quiet = new command.remote.Command("quiet", {
    connection: conn(GOOD_KEY),
    create: "echo QUIET-OUT-LINE; echo QUIET-ERR-LINE >&2",
    logging: "none",
  });
  const env = new command.remote.Command("env", {
    connection: conn(GOOD_KEY),
    create: 'echo "greeting=$GREETING"',
    environment: { GREETING: "hi" },
  });
  if (p.badKey) {
    new command.remote.Command("badkey", {
      connection: conn(WRONG_KEY),
      create: `echo badkey-ran >> ${LOG}`,
    });
  }
  if (p.failing) {
    new command.remote.Command("failing", {
      connection: conn(GOOD_KEY),
      create: "echo some-output; echo boom >&2; exit 3",
    });
  }
  if (p.badEnv) {
    new command.remote.Command("badenv", {
      connection: conn(GOOD_KEY),
      create: `echo badenv-ran >> ${LOG}`,
      environment: { NOT_ACCEPTED: "x" },
    });
  }
  return {
    r1Stdout: r1.stdout,
    r1Stderr: r1.stderr,
    quietStdout: quiet.stdout,
    envStdout: env.stdout,
  };
}

async function up(stack, p) {
  phase = p;
  const events = [];
  let output = "";
  const started = Date.now();
  try {
    const res = await stack.up({ onEvent: (e) => events.push(e), onOutput: (s) => (output += s) });
    return { ok: true, res, events, output, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    return { ok: false, err, events, output, seconds: (Date.now() - started) / 1000 };
  }
}
const ops = (events, name) =>
  events
    .filter((e) => e.resourcePreEvent && e.resourcePreEvent.metadata.urn.endsWith(`::${name}`))
    .map((e) => e.resourcePreEvent.metadata.op);
const diags = (events) => events.filter((e) => e.diagnosticEvent).map((e) => e.diagnosticEvent);
const outs = (res) => Object.fromEntries(Object.entries(res.outputs).map(([k, v]) => [k, v.value]));

async function main() {
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: "smoke", projectName: "command-standin-smoke", program },
    {
      envVars: { PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE },
      projectSettings: {
        name: "command-standin-smoke",
        runtime: "nodejs",
        backend: { url: `file://${path.join(T, "backend")}` },
      },
    },
  );

  // (1) create, with stdin and the host key pinned (the server also has an ECDSA key)
  let r = await up(stack, { trigger: "t1", version: "v1" });
  check("1 create succeeds", r.ok, r.ok ? undefined : r.err.message);
  if (!r.ok) return;
  let o = outs(r.res);
  check(
    "1 stdout captured (one trailing newline trimmed)",
    o.r1Stdout === "created-v1 prev=[]",
    JSON.stringify(o.r1Stdout),
  );
  check("1 stderr captured", o.r1Stderr === "err-line", JSON.stringify(o.r1Stderr));
  check(
    "1 stdin reached the command",
    fs.readFileSync(path.join(REMOTE, "r1.txt"), "utf8") === "hello-stdin\n",
  );
  check(
    "1 environment via Setenv (AcceptEnv GREETING)",
    o.envStdout === "greeting=hi",
    JSON.stringify(o.envStdout),
  );
  check(
    "1 ops",
    JSON.stringify(ops(r.events, "r1")) === '["create"]',
    JSON.stringify(ops(r.events, "r1")),
  );
  const d1 = diags(r.events);
  const r1Lines = d1.filter((d) => (d.urn || "").endsWith("::r1"));
  check(
    "1 output lines streamed to the engine as the resource's info status messages",
    r1Lines.some((d) => d.message.includes("created-v1") && d.severity === "info" && d.ephemeral) &&
      r1Lines.some((d) => d.message.includes("err-line")),
    JSON.stringify(
      r1Lines.map((d) => ({ m: d.message.trim(), sev: d.severity, eph: !!d.ephemeral })),
    ),
  );
  // (7) logging: none
  const quietSeen = [
    // (debug-severity events are the SDK's own RPC trace, which echoes every output)
    ...d1
      .filter((d) => d.severity !== "debug" && /QUIET-(OUT|ERR)-LINE/.test(d.message))
      .map((d) => `${d.severity} ${d.urn}: ${d.message.trim()}`),
    ...r.output
      .split("\n")
      .filter((l) => l.includes("Command quiet") && /QUIET-(OUT|ERR)-LINE/.test(l)),
  ];
  check(
    "7 logging:none keeps output out of the event stream",
    quietSeen.length === 0,
    JSON.stringify(quietSeen),
  );
  check(
    "7 ... but still captures it",
    o.quietStdout === "QUIET-OUT-LINE",
    JSON.stringify(o.quietStdout),
  );
  const shown = r.output.split("\n").filter((l) => l.includes("created-v1"));
  console.log(`     (CLI display lines with r1's output: ${JSON.stringify(shown)})`);

  // no change: nothing runs
  const before = logLines().length;
  r = await up(stack, { trigger: "t1", version: "v1" });
  check(
    "no-change up: all same, nothing ran",
    r.ok && JSON.stringify(ops(r.events, "r1")) === '["same"]' && logLines().length === before,
  );

  // preview of a change runs nothing
  phase = { trigger: "t1", version: "v2" };
  const pv = await stack.preview();
  check(
    "preview runs nothing",
    logLines().length === before && pv.changeSummary.update === 1,
    JSON.stringify(pv.changeSummary),
  );

  // (2) update: create text changes -> update (create runs again, with the previous stdout)
  r = await up(stack, { trigger: "t1", version: "v2" });
  check("2 update succeeds", r.ok, r.ok ? undefined : r.err.message);
  if (!r.ok) return;
  o = outs(r.res);
  check(
    "2 op is update, not replace",
    JSON.stringify(ops(r.events, "r1")) === '["update"]',
    JSON.stringify(ops(r.events, "r1")),
  );
  check(
    "2 create re-ran with PULUMI_COMMAND_STDOUT = previous stdout",
    o.r1Stdout === "created-v2 prev=[created-v1 prev=[]]",
    JSON.stringify(o.r1Stdout),
  );
  check(
    "2 no delete ran",
    !logLines().some((l) => l.startsWith("delete")),
    JSON.stringify(logLines()),
  );

  // (3) trigger change -> replace: create the new one, then delete the old one
  const mark = logLines().length;
  r = await up(stack, { trigger: "t2", version: "v2" });
  check("3 replace succeeds", r.ok, r.ok ? undefined : r.err.message);
  if (!r.ok) return;
  const l3 = logLines().slice(mark);
  check(
    "3 ops",
    JSON.stringify(ops(r.events, "r1")) === '["create-replacement","replace","delete-replaced"]',
    JSON.stringify(ops(r.events, "r1")),
  );
  check(
    "3 order: new created, then old deleted (with its stdout in the env)",
    l3.length === 2 &&
      l3[0] === "create r1 t2 v2" &&
      l3[1] === "delete r1 t1 prev=[created-v2 prev=[created-v1 prev=[]]]",
    JSON.stringify(l3),
  );

  // (4) wrong host key -> the connection fails clearly, after the dial retries
  r = await up(stack, { trigger: "t2", version: "v2", badKey: true });
  const m4 = r.ok ? "" : r.err.message;
  const e4 = (m4.match(/.*host key mismatch.*/) || [""])[0].trim();
  check(
    "4 wrong hostKey fails",
    !r.ok && /host key mismatch/.test(m4) && !logLines().includes("badkey-ran"),
    `${r.seconds}s: ${e4}`,
  );

  // (5) failing command -> error with the command and its output; not created
  r = await up(stack, { trigger: "t2", version: "v2", failing: true });
  const m5 = r.ok ? "" : r.err.message;
  check(
    "5 failing command: error names the command and shows its output",
    !r.ok &&
      m5.includes(
        'Process exited with status 3: running "echo some-output; echo boom >&2; exit 3":',
      ) &&
      m5.includes("some-output") &&
      m5.includes("boom"),
  );
  const diag5 = r.output
    .slice(r.output.indexOf("Diagnostics:"))
    .split("\n")
    .slice(0, 12)
    .join("\n     | ");
  console.log(`     | ${diag5}`);
  let state = JSON.stringify((await stack.exportStack()).deployment);
  check("5 failed resource not in state", !state.includes("::failing"));

  // environment the server does not accept -> error, like the real provider
  r = await up(stack, { trigger: "t2", version: "v2", badEnv: true });
  const m8 = r.ok ? "" : r.err.message;
  check(
    "env not accepted by sshd: fails, command not run",
    !r.ok &&
      m8.includes('could not set environment variable "NOT_ACCEPTED"') &&
      !logLines().includes("badenv-ran"),
    (m8.match(/.*could not set environment variable.*/) || [""])[0].trim(),
  );

  // secrets stay secret in the state (read the backend's files: exportStack shows secrets)
  const files = [];
  const walk = (d) =>
    fs
      .readdirSync(d, { withFileTypes: true })
      .forEach((e) =>
        e.isDirectory() ? walk(path.join(d, e.name)) : files.push(path.join(d, e.name)),
      );
  walk(path.join(T, "backend"));
  state = files.map((f) => fs.readFileSync(f, "utf8")).join("\n");
  const keyBody = PRIVATE_KEY.split("\n")[1];
  const leaks = [keyBody, "hello-stdin"]
    .filter((x) => state.includes(x))
    .map((x) => {
      const i = state.indexOf(x);
      return state.slice(Math.max(0, i - 300), i).replace(/"[A-Za-z0-9+\/=]{40,}"/g, '"…"');
    });
  check(
    "secrets: private key and stdin not in plain text in the backend",
    state.includes("command:remote:Command") && leaks.length === 0,
    leaks.length ? JSON.stringify(leaks) : `${files.length} files`,
  );

  // (6) destroy runs delete
  const mark6 = logLines().length;
  phase = { trigger: "t2", version: "v2" };
  let ok6 = true;
  try {
    await stack.destroy({ onOutput: () => {} });
  } catch (err) {
    ok6 = false;
    console.log(err.message);
  }
  const l6 = logLines().slice(mark6);
  check(
    "6 destroy ran delete",
    ok6 && JSON.stringify(l6) === '["delete r1 t2 prev=[created-v2 prev=[]]"]',
    JSON.stringify(l6),
  );
  await stack.workspace.removeStack("smoke");
}

main()
  .catch((err) => {
    console.log(`FAIL unexpected: ${err.stack || err}`);
    results.push({ ok: false });
  })
  .finally(() => {
    const failed = results.filter((r) => !r.ok).length;
    console.log(`${results.length - failed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
  });
