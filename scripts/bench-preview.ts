/**
 * `npm run bench:preview` (root; not a timed test): what an owner's everyday runs cost against an
 * empty TypeScript Pulumi program (one stack output) on the same engine, as ratios from one run
 * (the machine is shared and noisy; each figure is the median of a few runs, interleaved).
 *
 * Each run is a fresh Node process (as `pulumi preview` starts one), timed whole, its memory the
 * peak of the resident memory summed over it and its children (the engine, the providers).
 * 1. Inline through the Automation API (what the e2e tests run): a no-op preview and a converged
 *    `up` of the lab's converged post cluster (3 nodes; `--thirty` adds the 30-node fixture), and
 *    refusals: invalid stack config, a preflight refusal (a downgrade), an unreachable machine.
 * 2. Loading index.ts the way the Pulumi Node runtime does (ts-node registered as
 *    @pulumi/pulumi `cmd/run/run.ts` registers it, with tsconfig.pulumi.json): ours against an
 *    empty index.ts, and ours with the type check it had before tsconfig.pulumi.json.
 * `--thirty` adds the 30-node fixture, `--only-thirty` runs it alone.
 * `--timeline` instead runs each inline case once and prints where its time went: the case
 * process's own clock at each stage and at the first engine event of each kind and type.
 */
import { spawn, spawnSync } from "child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";

const REPO = join(__dirname, "..");
const STATE = join(REPO, ".state", "bench-preview");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

interface Cost {
  seconds: number;
  mib: number;
  status: number | null;
  tail: string;
  out: string;
}

/** Resident memory of a process and all its descendants, in KiB, from /proc. */
function treeRssKib(root: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone since readdir
    }
  }
  let kib = 0;
  const walk = (pid: number) => {
    try {
      kib += Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4;
    } catch {
      return;
    }
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(root);
  return kib;
}

/** Runs `node <args>` once: wall time and peak tree memory. */
function measure(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Cost> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, args, {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, treeRssKib(child.pid!))), 50);
    child.on("exit", (status) => {
      clearInterval(timer);
      resolve({
        seconds: (Date.now() - started) / 1000,
        mib: peak / 1024,
        status,
        tail: out.trim().split("\n").slice(-3).join(" | "),
        out,
      });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median cost of each case, the cases run interleaved RUNS times. */
async function interleaved(cases: Record<string, () => Promise<Cost>>) {
  const seen: Record<string, Cost[]> = {};
  for (let i = 0; i < RUNS; i++) {
    for (const [name, run] of Object.entries(cases)) {
      const cost = await run();
      console.log(
        `bench: ${name} #${i + 1}: ${cost.seconds.toFixed(2)} s, ${cost.mib.toFixed(0)} MiB, exit ${cost.status}`,
      );
      (seen[name] ??= []).push(cost);
    }
  }
  return Object.fromEntries(
    Object.entries(seen).map(([name, costs]) => [
      name,
      {
        seconds: median(costs.map((c) => c.seconds)),
        mib: median(costs.map((c) => c.mib)),
        statuses: costs.map((c) => c.status),
        tail: costs[costs.length - 1].tail,
      },
    ]),
  );
}

// ---- the cases, each run in its own process: `bench-preview.ts --case NAME [workspace]` ----

const CASE_ARGS = (name: string, ...rest: string[]) => [
  "-r",
  "ts-node/register/transpile-only",
  __filename,
  "--case",
  name,
  ...rest,
];

/** Seconds since this process started, for `--timeline`. */
const since = () => (performance.now() / 1000).toFixed(2);

/** In the case process: the empty inline program, through the same engine. */
async function emptyProgram(what: "preview" | "up"): Promise<void> {
  const marks: string[] = [`${since()} s: the case process runs`];
  const { LocalWorkspace, PulumiCommand } = await import("@pulumi/pulumi/automation");
  marks.push(`${since()} s: the automation API loaded`);
  const bin = spawnSync("bash", [join(REPO, "scripts", "engine.sh")], { encoding: "utf8" })
    .stdout.trim()
    .split("\n")
    .pop()!;
  const dir = join(STATE, "empty");
  mkdirSync(join(dir, "backend"), { recursive: true });
  const envVars = {
    PATH: `${bin}:${process.env.PATH}`,
    PULUMI_HOME: join(bin, "..", "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${dir}/backend`,
    PULUMI_CONFIG_PASSPHRASE: "bench",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: "empty", projectName: "empty", program: async () => ({ out: 1 }) },
    {
      workDir: dir,
      envVars,
      secretsProvider: "passphrase",
      pulumiCommand: await PulumiCommand.get({ root: join(bin, "..") }),
      projectSettings: { name: "empty", runtime: "nodejs" },
    },
  );
  marks.push(`${since()} s: the stack selected`);
  if (what === "preview") await stack.preview();
  else await stack.up();
  marks.push(`${since()} s: the ${what} returned`);
  if (process.argv.includes("--timeline")) for (const m of marks) console.log(`timeline: ${m}`);
}

/** `--timeline`: where one fresh process's time goes, from its own clock and the engine's events. */
async function timeline(what: "preview" | "up", workspace: string): Promise<number> {
  const marks: string[] = [`${since()} s: the case process runs`];
  const { Workspace } = await import("../lab/stack");
  marks.push(`${since()} s: lab/stack.ts and the program loaded`);
  const token = readFileSync(join(STATE, `${workspace}.token`), "utf8");
  const ws = new Workspace(workspace, "bench", join(STATE, "unused.yaml"), token, false);
  marks.push(`${since()} s: the engine found (scripts/engine.sh)`);
  const stack = await ws.stack();
  marks.push(`${since()} s: the stack selected (PulumiCommand.get, createOrSelectStack)`);
  const seen = new Set<string>();
  const onEvent = (e: import("@pulumi/pulumi/automation").EngineEvent) => {
    const kind = Object.keys(e).find((k) => k.endsWith("Event")) ?? "?";
    const urn = e.resourcePreEvent?.metadata.urn ?? e.resOutputsEvent?.metadata.urn ?? "";
    const type = urn.split("::")[2] ?? "";
    const key = `${kind} ${type}`;
    if (kind === "diagnosticEvent" || seen.has(key)) return;
    seen.add(key);
    marks.push(`${since()} s: first ${kind}${type ? ` of ${type}` : ""}`);
  };
  const run = what === "preview" ? stack.preview({ diff: false, onEvent }) : stack.up({ onEvent });
  await run;
  marks.push(`${since()} s: the ${what} returned`);
  for (const m of marks) console.log(`timeline: ${m}`);
  return 0;
}

/** `--timeline`: the preflight's read of every machine, timed per machine, all at once (as the
 * program reads them) and then each alone; in the lab all of them share this machine's cores. */
async function probeTimes(stackFile: string): Promise<string[]> {
  const { parse } = await import("yaml");
  const { buildClusterSpec, sortStackEntries } = await import("../config");
  const { renderHostProbe, renderNodeProbe } = await import("../probe/scripts");
  const { runRemoteScript } = await import("../probe/ssh");
  const { LAB_CLIENT_KEY } = await import("../lab/run");
  const doc = parse(readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> };
  // Secrets (`secure:` values) are not in the lab's stack file; the key is read from lab/keys.
  const entries = sortStackEntries(
    doc.config,
    (v) => typeof v === "object" && v !== null && "secure" in v,
  );
  const spec = buildClusterSpec(entries.structured).spec;
  const key = readFileSync(LAB_CLIENT_KEY, "utf8");
  const reads = [
    ...spec.nodes.map((n) => ({
      name: n.name,
      read: () =>
        runRemoteScript(n, key, renderNodeProbe(Object.keys(n.sysctl), n.role === "server")),
    })),
    ...spec.hosts.map((h) => ({
      name: h.name,
      read: () =>
        runRemoteScript(
          h,
          key,
          renderHostProbe(spec.nodes.filter((n) => n.host === h.name).map((n) => n.vmid)),
        ),
    })),
  ];
  const timed = async (read: () => Promise<unknown>) => {
    const t = performance.now();
    await read();
    return ((performance.now() - t) / 1000).toFixed(2);
  };
  const t = performance.now();
  const together = await Promise.all(reads.map((r) => timed(r.read)));
  const all = ((performance.now() - t) / 1000).toFixed(2);
  const alone: string[] = [];
  for (const r of reads) alone.push(await timed(r.read));
  return [
    `the probe, every machine at once: ${all} s (${reads.map((r, i) => `${r.name} ${together[i]}`).join(", ")})`,
    `the probe, each machine alone: ${reads.map((r, i) => `${r.name} ${alone[i]}`).join(", ")}`,
  ];
}

/** In the case process: our program on a workspace the parent prepared. */
async function ours(what: "preview" | "up", workspace: string): Promise<number> {
  if (process.argv.includes("--timeline")) return timeline(what, workspace);
  const { Workspace } = await import("../lab/stack");
  // Reopened: the stack file and state the parent's runs left (the path is then not read).
  const token = readFileSync(join(STATE, `${workspace}.token`), "utf8");
  const ws = new Workspace(workspace, "bench", join(STATE, "unused.yaml"), token, false);
  const run = what === "preview" ? await ws.preview(false) : await ws.up();
  console.log(run.output.trim().split("\n").slice(-2).join(" | "));
  return run.status;
}

/**
 * A plain JavaScript loader (no ts-node of the bench's own in that process) that requires the
 * program as the Pulumi Node runtime does (@pulumi/pulumi cmd/run/run.ts, CommonJS branch): the
 * SDK loaded first; the tsconfig's own compilerOptions (the SDK's tsutils reads them without
 * following `extends`) over the runtime's defaults; `noCheck` meaning transpileOnly.
 */
const LOADER = `
require("@pulumi/pulumi");
const [program, tsconfig] = process.argv.slice(2);
const own = require("@pulumi/pulumi/tsutils").loadTypeScriptCompilerOptions(tsconfig);
require("ts-node").register({
  project: tsconfig,
  transpileOnly: own.noCheck,
  compilerOptions: { target: "ES2020", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true", ...own },
});
require(program);
`;

function loaderFile(): string {
  // Under the repo, so its require() finds the repo's node_modules.
  mkdirSync(STATE, { recursive: true });
  const file = join(STATE, "load.js");
  writeFileSync(file, LOADER);
  return file;
}

async function runCase(name: string, arg: string | undefined): Promise<number> {
  if (name === "empty-preview") await emptyProgram("preview");
  else if (name === "empty-up") await emptyProgram("up");
  else if (name === "preview" || name === "up") return ours(name, arg!);
  else throw new Error(`unknown case ${name}`);
  return 0;
}

// ---- the parent: lab, workspaces, figures ----

/** Where stackFileForFixture writes the bench's stack file for a fixture. */
const stackFilePath = (name: string) =>
  join(REPO, ".state", "stack-files", `Pulumi.bench-${name}.yaml`);

async function prepared(fixtureFile: string, name: string): Promise<void> {
  const { parse, stringify } = await import("yaml");
  const { labUp } = await import("../lab/session");
  const { stackFileForFixture } = await import("../lab/stackFile");
  const { Workspace } = await import("../lab/stack");
  labUp(fixtureFile);
  mkdirSync(STATE, { recursive: true });
  const token = (parse(readFileSync(fixtureFile, "utf8")) as { k3s: { token: string } }).k3s.token;
  const file = stackFileForFixture(`bench-${name}`, fixtureFile);
  if (file !== stackFilePath(name)) throw new Error(`bench: the stack file is ${file}`);
  writeFileSync(join(STATE, `${name}.token`), token);
  const ws = new Workspace(name, "bench", file, token);
  console.log(`bench: converging the ${name} stack (one up; the figures are of what follows)`);
  const up = await ws.up();
  if (up.status !== 0) throw new Error(`up of ${name} failed:\n${up.output.slice(-3000)}`);
  // Refusals, each on a workspace of its own made now (a case process only reopens it).
  type Config = Record<string, Record<string, unknown>>;
  const refusals: Record<string, (c: Config) => void> = {
    "refusal-config": (c) => (c["k3s-homelab:cluster"].gateTimeoutSeconds = "soon"),
    "refusal-preflight": (c) => (c["k3s-homelab:cluster"].k3sVersion = "v1.32.9+k3s1"),
    "refusal-unreachable": (c) => {
      const nodes = c["k3s-homelab:nodes"] as Record<string, { port?: number }>;
      Object.values(nodes)[0].port = 1;
    },
  };
  for (const [what, edit] of Object.entries(refusals)) {
    const doc = parse(readFileSync(file, "utf8")) as { config: Config };
    edit(doc.config);
    const edited = join(STATE, `Pulumi.${name}-${what}.yaml`);
    writeFileSync(edited, stringify(doc));
    writeFileSync(join(STATE, `${name}-${what}.token`), token);
    await new Workspace(`${name}-${what}`, "bench", edited, token).stack();
  }
}

function emptyProgramDir(): string {
  const dir = join(STATE, "empty-program");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "index.ts"), "export = async () => ({ out: 1 });\n");
  const tsconfig = JSON.parse(readFileSync(join(REPO, "tsconfig.json"), "utf8")) as {
    compilerOptions: Record<string, unknown>;
  };
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { ...tsconfig.compilerOptions, noCheck: true } }),
  );
  if (!existsSync(join(dir, "node_modules")))
    spawnSync("ln", ["-s", join(REPO, "node_modules"), join(dir, "node_modules")]);
  return dir;
}

const ratio = (a: number, b: number) => (a / b).toFixed(2);

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error("bench: run as root (the lab creates namespaces)");
    return 1;
  }
  const lines: string[] = [];
  const empty = emptyProgramDir();
  // Before tsconfig.pulumi.json, Pulumi.yaml named no tsconfig: the runtime used tsconfig.json,
  // type-checking (tsconfig.json's swc, which implies transpile-only, came later: off here).
  const typeChecked = join(STATE, "tsconfig.type-checked.json");
  writeFileSync(
    typeChecked,
    JSON.stringify({ extends: join(REPO, "tsconfig.json"), "ts-node": { swc: false } }),
  );
  const loader = loaderFile();
  const load = await interleaved({
    "load empty index.ts": () =>
      measure([loader, join(empty, "index.ts"), join(empty, "tsconfig.json")]),
    "load index.ts": () =>
      measure([loader, join(REPO, "index.ts"), join(REPO, "tsconfig.pulumi.json")]),
    "load index.ts, type-checked": () => measure([loader, join(REPO, "index.ts"), typeChecked]),
  });
  const base = load["load empty index.ts"];
  for (const name of ["load index.ts", "load index.ts, type-checked"]) {
    const c = load[name];
    lines.push(
      `  ${name}: ${c.seconds.toFixed(2)} s, ${c.mib.toFixed(0)} MiB; over the empty index.ts (${base.seconds.toFixed(2)} s, ${base.mib.toFixed(0)} MiB): time ${ratio(c.seconds, base.seconds)}, memory ${ratio(c.mib, base.mib)}`,
    );
  }

  const { labDown } = await import("../lab/session");
  const fixtures: [string, string, string][] = [];
  if (!process.argv.includes("--only-thirty")) fixtures.push(["post", "post.yaml", "3 nodes"]);
  if (process.argv.some((a) => a === "--thirty" || a === "--only-thirty"))
    fixtures.push(["thirty", "thirty.yaml", "30 nodes"]);
  for (const [name, fixture, size] of fixtures) {
    try {
      await prepared(join(REPO, "lab", "fixtures", fixture), name);
      const { eventMark, eventsSince } = await import("../lab/session");
      const mark = eventMark();
      if (process.argv.includes("--timeline")) {
        for (const [what, args] of [
          ["empty program, preview", CASE_ARGS("empty-preview", "-", "--timeline")],
          ["empty program, up", CASE_ARGS("empty-up", "-", "--timeline")],
          [`${size}, no-op preview`, CASE_ARGS("preview", name, "--timeline")],
          [`${size}, converged up`, CASE_ARGS("up", name, "--timeline")],
        ] as const) {
          const cost = await measure([...args]);
          if (what.endsWith("no-op preview"))
            lines.push(...(await probeTimes(stackFilePath(name))).map((l) => `  ${l}`));
          lines.push(`  ${what}: ${cost.seconds.toFixed(2)} s, ${cost.mib.toFixed(0)} MiB whole`);
          for (const l of cost.out.split("\n").filter((x) => x.startsWith("timeline: ")))
            lines.push(`    ${l.slice("timeline: ".length)}`);
        }
        continue;
      }
      const costs = await interleaved({
        "empty program, preview": () => measure(CASE_ARGS("empty-preview")),
        "empty program, up": () => measure(CASE_ARGS("empty-up")),
        [`${size}, no-op preview`]: () => measure(CASE_ARGS("preview", name)),
        [`${size}, converged up`]: () => measure(CASE_ARGS("up", name)),
        ...(name === "post"
          ? Object.fromEntries(
              ["refusal-config", "refusal-preflight", "refusal-unreachable"].map((r) => [
                `${size}, ${r}`,
                () => measure(CASE_ARGS("preview", `${name}-${r}`)),
              ]),
            )
          : {}),
      });
      const mutating = eventsSince(mark).filter((e) => e.mutating);
      // Like with like: an `up` against the empty program's `up` (which also reads the stack's
      // history and outputs back after the engine ends), everything else against its preview.
      const empty = costs["empty program, preview"];
      const emptyUp = costs["empty program, up"];
      lines.push(
        `  ${size} (empty program: preview ${empty.seconds.toFixed(2)} s, ${empty.mib.toFixed(0)} MiB; up ${emptyUp.seconds.toFixed(2)} s, ${emptyUp.mib.toFixed(0)} MiB):`,
      );
      for (const [what, c] of Object.entries(costs)) {
        if (what.startsWith("empty program")) continue;
        const base = what.endsWith(" up") ? emptyUp : empty;
        lines.push(
          `    ${what}: ${c.seconds.toFixed(2)} s, ${c.mib.toFixed(0)} MiB, exits ${c.statuses.join(",")}: time ${ratio(c.seconds, base.seconds)}, memory ${ratio(c.mib, base.mib)} (against the empty program's ${what.endsWith(" up") ? "up" : "preview"})`,
        );
      }
      lines.push(`    mutating calls during these runs: ${mutating.length}`);
    } finally {
      labDown();
    }
  }
  console.log("\nbench:preview (medians of %d runs; ratios against the empty program)", RUNS);
  for (const line of lines) console.log(line);
  writeFileSync(join(STATE, "report.txt"), lines.join("\n") + "\n");
  return 0;
}

if (require.main === module) {
  const at = process.argv.indexOf("--case");
  const run = at === -1 ? main() : runCase(process.argv[at + 1], process.argv[at + 2]);
  run.then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(`bench: ${error.stack ?? error.message}`);
      process.exit(1);
    },
  );
}
