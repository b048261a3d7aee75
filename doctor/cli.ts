/**
 * `npm run doctor -- --stack NAME [--json] [--fio]`: reads the cluster live, read-only, and
 * judges each node against the stack (see doctor/args.ts USAGE). Exit 0 ok, 1 warn, 2 fail, 3 the
 * doctor itself failed.
 */
import { resolve } from "path";
import { nodeConfigYaml } from "../components/K3sNode";
import { parseArgs, USAGE, UsageError } from "./args";
import { buildReport, toObserved } from "./buildReport";
import { collect } from "./collect";
import { runFioChecks } from "./fioRun";
import { EXIT, exitCode, renderJson, renderTable } from "./report";
import { DoctorError, LoadedStack, loadFromPulumi, loadFromStackFile } from "./source";
import { DoctorState, nextState, readState, stateFile, writeState } from "./state";
import { EtcdMetrics } from "./prometheus";

const REPO = resolve(__dirname, "..");

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, REPO);
  if (parsed === "help") {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  const options = parsed;
  const stack: LoadedStack = options.stackFile
    ? loadFromStackFile(options.stackFile, options.sshKey!, options.stack)
    : loadFromPulumi(options.stack!, resolve(options.cwd), process.env);
  const { spec } = stack;
  for (const warning of stack.warnings) process.stderr.write(`warning: ${warning}\n`);
  const desiredConfigYaml = (node: (typeof spec.nodes)[number]) =>
    nodeConfigYaml(spec, node, stack.hasAgentToken);

  const notes: string[] = [`config: ${stack.source}`];
  const file = stateFile(resolve(options.stateDir), stack.stack);
  let previous: DoctorState | undefined;
  try {
    previous = readState(file);
  } catch (error) {
    notes.push(`state ignored: ${(error as Error).message}`);
  }

  const at = new Date().toISOString();
  const readings = await collect(spec, stack.privateKey);
  const fio = options.fio
    ? await runFioChecks(spec, stack.privateKey, toObserved(readings), desiredConfigYaml, {
        runtimeSeconds: options.fioRuntimeSeconds,
        log: (line) => process.stderr.write(`${line}\n`),
      })
    : undefined;
  const report = buildReport({
    stack: stack.stack,
    at,
    spec,
    desiredConfigYaml,
    nodes: readings.nodes,
    hosts: readings.hosts,
    previous,
    fio,
    notes,
  });
  process.stdout.write(options.json ? renderJson(report) : renderTable(report));

  const metrics = new Map<string, EtcdMetrics>();
  for (const [name, r] of readings.nodes)
    if (!("unreachable" in r) && r.metrics) metrics.set(name, r.metrics);
  try {
    writeState(file, nextState(stack.stack, at, previous, metrics));
  } catch (error) {
    process.stderr.write(`doctor: could not write ${file}: ${(error as Error).message}\n`);
  }
  return exitCode(report);
}

process.on("SIGINT", () => {
  // Closing the process closes every SSH session; a running fio sees it and removes its file.
  process.stderr.write("doctor: interrupted\n");
  process.exit(EXIT.doctorFailed);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) process.stderr.write(`doctor: ${error.message}\n\n${USAGE}`);
    else if (error instanceof DoctorError) process.stderr.write(`doctor: ${error.message}\n`);
    else process.stderr.write(`doctor: failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = EXIT.doctorFailed;
  },
);
