import { execFile } from "child_process";
import { join } from "path";
import { LabEvent } from "../../lab/events";
import { SHARED } from "../../lab/paths";

/** The lab's etcd members run with K3s's --election-timeout 5000 (lab/runtime/labetcd.py). */
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

/** Puts a key into etcd every 100 ms with the lab's etcdctl over gRPC and TLS (K3s's 2379 speaks
 * nothing else) through the members' root-side forwarders, recording when each put succeeded. */
export function startWriter(addresses: readonly string[]) {
  const successes: number[] = [];
  let running = true;
  let n = 0;
  const tls = join(SHARED, "etcd-client");
  const endpoints = addresses.map((a) => `https://${a}:2379`).join(",");
  const put = (value: string) =>
    new Promise<boolean>((resolve) => {
      execFile(
        join(SHARED, "bin", "etcdctl"),
        [
          `--endpoints=${endpoints}`,
          `--cacert=${tls}/server-ca.crt`,
          `--cert=${tls}/client.crt`,
          `--key=${tls}/client.key`,
          "--dial-timeout=1s",
          "--command-timeout=1s",
          "put",
          "k3s-homelab-e2e/writer",
          value,
        ],
        { timeout: 3000 },
        (err) => resolve(!err),
      );
    });
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      if (await put(String(n++))) successes.push(Date.now());
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
