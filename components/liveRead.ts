// What a node runs now, read over SSH for the NodeLiveState resource's `read` (drift under
// `pulumi preview --refresh`). Self-contained on purpose: the dynamic provider is serialized into
// its own process, so this file uses only node built-ins and ssh2.
import { createHash } from "crypto";

export interface LiveEndpoint {
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly hostKey: string;
}

/** The values drift is judged on; the desired side is computed the same way from the spec. */
export interface LiveValues {
  readonly k3sVersion: string;
  readonly sysctl: Record<string, string>;
  readonly sysctlFileSha: string;
  readonly configSha: string;
  /** cache and iothread of the etcd disk in `qm config` (pending view) and whether the running VM
   * (`qm config --current`) has the same. */
  readonly disk: string;
}

export interface LiveTarget {
  readonly guest: LiveEndpoint;
  readonly host: LiveEndpoint;
  readonly privateKey: string;
  readonly vmid: number;
  readonly diskKey: string;
  readonly sysctlKeys: string[];
}

export function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** Reads a node's live values. Everything it calls is defined inside, and ssh2 is imported
 * here, because Pulumi serializes this function into the dynamic provider's own process. */
export async function readLive(t: LiveTarget): Promise<LiveValues> {
  // A plain require: a compiled `import()` would call a module-level helper the serialized
  // function cannot see.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client } = require("ssh2") as typeof import("ssh2");
  const run = (endpoint: LiveEndpoint, script: string) =>
    new Promise<string>((resolve, reject) => {
      const [type, base64] = endpoint.hostKey.split(" ");
      const pinned = Buffer.from(base64, "base64");
      const client = new Client();
      let out = "";
      client.on("error", (e) => reject(new Error(`${endpoint.address}: ${e.message}`)));
      client.on("ready", () =>
        client.exec("sh -s", (error, stream) => {
          if (error) return reject(error);
          stream.on("data", (d: Buffer) => (out += d.toString()));
          stream.on("close", () => {
            client.end();
            resolve(out);
          });
          stream.end(script);
        }),
      );
      client.connect({
        host: endpoint.address,
        port: endpoint.port,
        username: endpoint.user,
        privateKey: t.privateKey,
        readyTimeout: 20_000,
        algorithms: { serverHostKey: [type as "ssh-ed25519"] },
        hostVerifier: (key: Buffer) => key.equals(pinned),
      });
    });
  const summary = (drive: string) => {
    const opts = new Map(
      drive
        .split(",")
        .slice(1)
        .map((p) => p.split("=") as [string, string]),
    );
    return `cache=${opts.get("cache") ?? "none"} iothread=${opts.get("iothread") === "1" ? 1 : 0}`;
  };
  const sum = (file: string) => `(sha256sum ${file} 2>/dev/null || echo none) | cut -c1-16`;
  const guest = await run(
    t.guest,
    [
      "k3s --version 2>/dev/null | head -n 1 | cut -d' ' -f3",
      sum("/etc/sysctl.d/99-etcd.conf"),
      sum("/etc/rancher/k3s/config.yaml"),
      ...t.sysctlKeys.map((k) => `sysctl -n '${k}' 2>/dev/null | tr -s ' \\t' '  ' || echo`),
    ].join("\n"),
  );
  const [version, sysctlSha, configSha, ...values] = guest.split("\n");
  const host = await run(
    t.host,
    `qm config ${t.vmid} | sed -n 's/^${t.diskKey}: //p'; qm config ${t.vmid} --current | sed -n 's/^${t.diskKey}: //p'`,
  );
  const [pending, current] = host.split("\n");
  const pendingDisk = summary(pending ?? "");
  const currentDisk = summary(current ?? "");
  return {
    k3sVersion: version ?? "",
    sysctl: Object.fromEntries(t.sysctlKeys.map((k, i) => [k, values[i] ?? ""])),
    sysctlFileSha: sysctlSha ?? "",
    configSha: configSha ?? "",
    disk: pendingDisk === currentDisk ? pendingDisk : `${currentDisk} (pending ${pendingDisk})`,
  };
}
