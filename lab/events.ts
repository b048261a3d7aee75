// The lab's own lines in the shared event log (.lab/events.jsonl). The stand-ins write theirs
// with lab/runtime/lablib.py; both use the same shape:
//   {"ts": ISO-8601 with ms, "host": name, "tool": "qm"|"k3s"|"installer"|"systemctl"|"lab",
//    "action": string, "mutating": boolean, ...details}
import * as fs from "fs";
import { EVENTS } from "./paths";

export interface LabEvent {
  ts: string;
  host: string;
  tool: string;
  action: string;
  mutating: boolean;
  [detail: string]: unknown;
}

export function logEvent(
  host: string,
  action: string,
  details: Record<string, unknown> = {},
): void {
  const rec: LabEvent = {
    ts: new Date().toISOString(),
    host,
    tool: "lab",
    action,
    mutating: false,
    ...details,
  };
  fs.appendFileSync(EVENTS, JSON.stringify(rec) + "\n");
}

export function readEvents(file = EVENTS): LabEvent[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as LabEvent);
}
