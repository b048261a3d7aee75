export type Verdict = "ok" | "warn" | "fail";

/** One line of the doctor's report: what was read, what was wanted, and the verdict. */
export interface Check {
  readonly check: string;
  readonly value: string;
  /** The desired value or the threshold the verdict used. */
  readonly desired: string;
  readonly verdict: Verdict;
  /** Figures for machines (`--json`), e.g. `{ p99Ms: 3.9 }`. */
  readonly data?: Readonly<Record<string, number | string | boolean | null>>;
}

/** The checks of one machine (a node or a Proxmox host) or of the cluster as a whole. */
export interface Section {
  readonly kind: "cluster" | "node" | "host";
  readonly name: string;
  /** e.g. `server, VM 105 on pve`. */
  readonly about?: string;
  readonly checks: readonly Check[];
}

const RANK: Record<Verdict, number> = { ok: 0, warn: 1, fail: 2 };

export function worst(verdicts: readonly Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((a, b) => (RANK[b] > RANK[a] ? b : a), "ok");
}

export function check(
  name: string,
  value: string,
  desired: string,
  verdict: Verdict,
  data?: Check["data"],
): Check {
  return data === undefined
    ? { check: name, value, desired, verdict }
    : { check: name, value, desired, verdict, data };
}

/** Milliseconds as the report prints them: 0.27 ms, 3.9 ms, 42 ms, 150 ms. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
