import { request } from "http";
import { LabEvent } from "../../lab/events";

/** The lab's etcd members run with --election-timeout 5000 (lab/standins/k3s.py). */
export const LAB_ELECTION_TIMEOUT_MS = 5000;

export interface Interval {
  readonly host: string;
  readonly from: number;
  readonly to: number;
}

const at = (iso: string) => Date.parse(iso);

/**
 * When each guest's K3s (and, on a server, its etcd member) was down, from the lab's event log:
 * a VM restart runs from the guest's `poweroff` to its `unit-started`; a K3s restart from the
 * `systemctl restart` call to the `unit-started` its job logs. Sorted by start.
 */
export function downIntervals(events: readonly LabEvent[], hosts: readonly string[]): Interval[] {
  const intervals: Interval[] = [];
  for (const host of hosts) {
    const mine = events.filter((e) => e.host === host);
    mine.forEach((e, i) => {
      if (e.tool === "lab" && e.action === "poweroff") {
        const back = mine.slice(i + 1).find((x) => x.tool === "lab" && x.action === "unit-started");
        intervals.push({ host, from: at(e.ts), to: back ? at(back.ts) : Infinity });
      }
      if (e.tool === "systemctl" && e.action === "restart" && e.mutating) {
        // A --no-block restart returns at once: the unit is back when its job says so.
        const from = at(String(e.startedAt ?? e.ts));
        const back = mine.find(
          (x) => x.tool === "lab" && x.action === "unit-started" && at(x.ts) >= from,
        );
        const to = Math.max(at(e.ts), back ? at(back.ts) : Infinity);
        intervals.push({ host, from, to });
      }
    });
  }
  return intervals.sort((a, b) => a.from - b.from);
}

/** Puts a key into etcd every 100 ms through the members' client ports (first that answers),
 * recording when each put succeeded. */
export function startWriter(addresses: readonly string[]) {
  const successes: number[] = [];
  let running = true;
  let n = 0;
  const put = (address: string, body: string) =>
    new Promise<boolean>((resolve) => {
      const req = request(
        { host: address, port: 2379, path: "/v3/kv/put", method: "POST", timeout: 1000 },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode === 200));
        },
      );
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(false));
      req.end(body);
    });
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      const body = JSON.stringify({
        key: Buffer.from("k3s-homelab-e2e/writer").toString("base64"),
        value: Buffer.from(String(n++)).toString("base64"),
      });
      for (const address of addresses) {
        if (await put(address, body)) {
          successes.push(Date.now());
          break;
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - started))));
    }
  })();
  return {
    async stop(): Promise<{ count: number; maxGapMs: number }> {
      running = false;
      await loop;
      let maxGapMs = 0;
      for (let i = 1; i < successes.length; i++)
        maxGapMs = Math.max(maxGapMs, successes[i] - successes[i - 1]);
      return { count: successes.length, maxGapMs };
    },
  };
}
