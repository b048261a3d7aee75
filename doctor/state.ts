import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "fs";
import { join } from "path";
import { EtcdMetrics } from "./prometheus";
import { Bucket } from "./quantile";

/** What one etcd member showed at the last run, to report growth since then. */
export interface MemberState {
  readonly at: string;
  readonly startTime?: number;
  readonly leaderChanges?: number;
  readonly walFsync?: Bucket[];
  readonly backendCommit?: Bucket[];
}

/** `.state/doctor/<stack>.json`: the last run's etcd readings, per node. */
export interface DoctorState {
  readonly version: 1;
  readonly stack: string;
  readonly at: string;
  readonly members: Readonly<Record<string, MemberState>>;
}

/** The state after this run: members read now replace their entries, others are kept. */
export function nextState(
  stack: string,
  at: string,
  previous: DoctorState | undefined,
  metrics: ReadonlyMap<string, EtcdMetrics>,
): DoctorState {
  const members: Record<string, MemberState> = { ...(previous?.members ?? {}) };
  for (const [node, m] of metrics) {
    members[node] = {
      at,
      startTime: m.startTime,
      leaderChanges: m.leaderChanges,
      walFsync: m.walFsync,
      backendCommit: m.backendCommit,
    };
  }
  return { version: 1, stack, at, members };
}

/** A stack name as a file name: anything unusual becomes `_`. */
export function stateFile(dir: string, stack: string): string {
  return join(dir, `${stack.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
}

/** JSON has no Infinity: bucket bounds are written as text. */
function encode(state: DoctorState): string {
  return JSON.stringify(
    state,
    (key, value) => (key === "le" && typeof value === "number" ? String(value) : value),
    2,
  );
}

function decodeBuckets(value: unknown): Bucket[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const buckets = value.map((b: { le?: unknown; count?: unknown }) => ({
    le: Number(b?.le),
    count: Number(b?.count),
  }));
  return buckets.every((b) => !Number.isNaN(b.le) && !Number.isNaN(b.count)) ? buckets : undefined;
}

/** Reads the state; undefined when there is none yet. Throws when the file is unreadable. */
export function readState(file: string): DoctorState | undefined {
  if (!existsSync(file)) return undefined;
  const raw = JSON.parse(readFileSync(file, "utf8")) as {
    version?: unknown;
    stack?: unknown;
    at?: unknown;
    members?: Record<string, Record<string, unknown>>;
  };
  if (raw.version !== 1 || typeof raw.members !== "object" || raw.members === null)
    throw new Error(`${file}: not a doctor state file (version 1)`);
  const members: Record<string, MemberState> = {};
  for (const [node, m] of Object.entries(raw.members)) {
    members[node] = {
      at: String(m.at ?? ""),
      startTime: typeof m.startTime === "number" ? m.startTime : undefined,
      leaderChanges: typeof m.leaderChanges === "number" ? m.leaderChanges : undefined,
      walFsync: decodeBuckets(m.walFsync),
      backendCommit: decodeBuckets(m.backendCommit),
    };
  }
  return { version: 1, stack: String(raw.stack ?? ""), at: String(raw.at ?? ""), members };
}

/** Writes atomically (temp file, then rename). */
export function writeState(file: string, state: DoctorState): void {
  mkdirSync(join(file, ".."), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, encode(state) + "\n");
  renameSync(tmp, file);
}
