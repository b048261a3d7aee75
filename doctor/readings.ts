import { NodeObservation, parseNodeProbe } from "../probe/observations";
import { splitSections } from "../probe/sections";
import { FioResult, parseFioJson } from "./fio";
import { EtcdMetrics, parseEtcdMetrics } from "./prometheus";

/** A sysctl key that a file applied after 99-etcd.conf sets again (that file wins at boot). */
export interface SysctlOverride {
  readonly key: string;
  readonly file: string;
  readonly value: string;
}

export type JournalReading =
  | { readonly kind: "absent" }
  | { readonly kind: "empty" }
  | { readonly kind: "read"; readonly entries: number; readonly slowFdatasync: number };

/** What the doctor reads on a node beyond the preflight probe. */
export interface DoctorNodeReading {
  readonly observation: NodeObservation;
  readonly overrides: readonly SysctlOverride[];
  /** Servers: etcd's metrics; undefined when 127.0.0.1:2381 did not answer. */
  readonly metrics?: EtcdMetrics;
  /** Servers only. */
  readonly journal?: JournalReading;
}

/** Parses the output of renderDoctorNodeProbe. */
export function parseDoctorNodeProbe(stdout: string): DoctorNodeReading {
  const sections = splitSections(stdout);
  const overrides: SysctlOverride[] = [];
  for (const line of (sections.get("sysctl-override") ?? "").split("\n")) {
    const [key, file, ...value] = line.split("\t");
    if (!key || !file) continue;
    if (!overrides.some((o) => o.key === key && o.file === file))
      overrides.push({ key, file, value: value.join("\t") });
  }
  const metricsText = sections.get("etcd-metrics");
  const journalText = sections.get("journal");
  return {
    observation: parseNodeProbe(stdout),
    overrides,
    metrics:
      metricsText === undefined || metricsText === "" || metricsText.startsWith("!")
        ? undefined
        : parseEtcdMetrics(metricsText + "\n"),
    journal: journalText === undefined ? undefined : parseJournal(journalText),
  };
}

function parseJournal(text: string): JournalReading {
  if (text.startsWith("!absent")) return { kind: "absent" };
  const entries = /^entries (\d+)$/m.exec(text)?.[1];
  const slow = /^slow (\d+)$/m.exec(text)?.[1];
  if (entries === undefined || slow === undefined) return { kind: "empty" };
  return { kind: "read", entries: Number(entries), slowFdatasync: Number(slow) };
}

/** What a fio run on one node gave: a result, or why there is none. */
export type FioReading =
  | {
      readonly kind: "measured";
      readonly result: FioResult;
      readonly fileSystem: string;
      readonly removed: boolean;
    }
  | { readonly kind: "not-run"; readonly reason: string; readonly verdictHint: "warn" | "fail" };

/** Parses the output of renderFioScript. */
export function parseFioRun(stdout: string): FioReading {
  const s = splitSections(stdout);
  const ready = s.get("fio-ready") ?? "";
  const notRun = (reason: string, verdictHint: "warn" | "fail" = "warn"): FioReading => ({
    kind: "not-run",
    reason,
    verdictHint,
  });
  if (ready.startsWith("!no-fio"))
    return notRun("fio is not installed on the node (apt install fio)");
  if (ready.startsWith("!no-data-dir")) return notRun("no etcd data directory on the node");
  if (ready.startsWith("!no-space"))
    return notRun(`too little free space next to etcd's data (${ready.split(" ")[1] ?? "?"} KiB)`);
  if (!ready.startsWith("ready"))
    return notRun(`the fio script did not start: ${ready || "no output"}`, "fail");
  const removed = (s.get("removed") ?? "").trim() === "yes";
  const code = (s.get("fio-exit") ?? "").trim();
  if (code !== "0") {
    const why = (s.get("fio-stderr") ?? "").split("\n").find((l) => l.trim() !== "") ?? "";
    return notRun(`fio exited with ${code || "no code"}${why ? `: ${why.trim()}` : ""}`, "fail");
  }
  try {
    return {
      kind: "measured",
      result: parseFioJson(s.get("fio") ?? ""),
      fileSystem: (s.get("fs") ?? "").trim(),
      removed,
    };
  } catch (error) {
    return notRun((error as Error).message, "fail");
  }
}
