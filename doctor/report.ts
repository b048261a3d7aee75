import { Section, Verdict, worst } from "./check";

/** The doctor's whole answer for one stack. */
export interface Report {
  readonly stack: string;
  /** ISO time the readings were taken. */
  readonly at: string;
  readonly sections: readonly Section[];
  /** Notes that are no check (e.g. the state file could not be read). */
  readonly notes: readonly string[];
}

export const EXIT = { ok: 0, warn: 1, fail: 2, doctorFailed: 3 } as const;

export function summarize(report: Report): Record<Verdict, number> {
  const counts: Record<Verdict, number> = { ok: 0, warn: 0, fail: 0 };
  for (const section of report.sections) for (const c of section.checks) counts[c.verdict]++;
  return counts;
}

/** 0 when every line is ok, 1 with any warn, 2 with any fail. */
export function exitCode(report: Report): number {
  return EXIT[worst(report.sections.flatMap((s) => s.checks.map((c) => c.verdict)))];
}

const HEADER = ["NODE", "CHECK", "VALUE", "DESIRED/THRESHOLD", "VERDICT"];

function label(section: Section): string {
  return section.kind === "host" ? `host ${section.name}` : section.name;
}

/**
 * One table per section (the cluster, each node, each Proxmox host), columns aligned across all
 * of them, then the summary line.
 */
export function renderTable(report: Report): string {
  const rows = report.sections.map((s) =>
    s.checks.map((c) => [label(s), c.check, c.value, c.desired, c.verdict]),
  );
  const widths = HEADER.map((h, i) =>
    Math.max(h.length, ...rows.flat().map((row) => row[i].length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const blocks = report.sections.map((s, i) => {
    const title = `${label(s)}${s.about ? ` (${s.about})` : ""}`;
    return [title, ...rows[i].map(line)].join("\n");
  });
  return [
    `doctor: stack ${report.stack}, read ${report.at}`,
    line(HEADER),
    ...blocks.flatMap((b) => ["", b]),
    "",
    ...report.notes.map((n) => `note: ${n}`),
    summaryLine(report),
    "",
  ].join("\n");
}

export function summaryLine(report: Report): string {
  const counts = summarize(report);
  const nodes = report.sections.filter((s) => s.kind === "node").length;
  const hosts = report.sections.filter((s) => s.kind === "host").length;
  return `summary: ${nodes} nodes, ${hosts} hosts: ${counts.ok} ok, ${counts.warn} warn, ${counts.fail} fail (exit ${exitCode(report)})`;
}

/** `--json`: one document with every check, the summary and the exit code. */
export function renderJson(report: Report): string {
  return (
    JSON.stringify({ ...report, summary: summarize(report), exitCode: exitCode(report) }, null, 2) +
    "\n"
  );
}
