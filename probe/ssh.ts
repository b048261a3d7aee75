import { Client } from "ssh2";
import { clientKeyFingerprint, hostKeyChanged, keyRefused } from "./sshRefusals";

/** Where and as whom to log in, with the host key pinned (as in the stack config). */
export interface ProbeEndpoint {
  /** The node or host name, for messages. */
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** `ssh-ed25519 AAAA...`: the server must present exactly this key. */
  readonly hostKey: string;
}

export interface RemoteResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Raised when a machine cannot be reached or refuses us; names the machine. */
export class ProbeError extends Error {
  constructor(
    readonly machine: string,
    message: string,
    /** Its SSH server answered and refused us: see Unreachable.refused. */
    readonly refused = false,
    /** The host key it presented, when that was not the pinned one. */
    readonly presentedKey?: Buffer,
  ) {
    super(`${machine}: ${message}`);
    this.name = "ProbeError";
  }
}

/** ssh2's error once the server has turned down every key we offered (`lib/client.js`); a key
 * that cannot sign gets the same level with another message, and is not the server's refusal. */
function refusedOurKey(error: Error & { level?: string }): boolean {
  return (
    error.level === "client-authentication" &&
    error.message === "All configured authentication methods failed"
  );
}

function pinnedKey(hostKey: string): { type: string; blob: Buffer } {
  const [type, base64] = hostKey.split(" ");
  return { type, blob: Buffer.from(base64, "base64") };
}

/**
 * Runs a read-only script with `sh -s` over SSH, the script on stdin. The connection is refused
 * unless the server presents the pinned host key; no agent is used.
 */
export function runRemoteScript(
  endpoint: ProbeEndpoint,
  privateKey: string,
  script: string,
  timeoutMs = 30_000,
): Promise<RemoteResult> {
  const pinned = pinnedKey(endpoint.hostKey);
  return new Promise((resolve, reject) => {
    const client = new Client();
    let stdout = "";
    let stderr = "";
    let presented: Buffer | undefined;
    const timer = setTimeout(() => {
      client.end();
      reject(new ProbeError(endpoint.name, `no answer within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    const finish = (error: Error | undefined, result?: RemoteResult) => {
      clearTimeout(timer);
      client.end();
      if (error) reject(error);
      else resolve(result!);
    };
    client.on("error", (error: Error & { level?: string }) => {
      const ourKeyRefused = refusedOurKey(error);
      const why = presented
        ? hostKeyChanged(endpoint, pinned.type, presented, pinned.blob)
        : ourKeyRefused
          ? keyRefused(endpoint, clientKeyFingerprint(privateKey))
          : `cannot connect to ${endpoint.address}:${endpoint.port}: ${error.message}`;
      const refused = presented !== undefined || ourKeyRefused;
      finish(new ProbeError(endpoint.name, why, refused, presented));
    });
    client.on("ready", () => {
      client.exec("sh -s", (error, stream) => {
        if (error)
          return finish(new ProbeError(endpoint.name, `cannot run a command: ${error.message}`));
        stream.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
        stream.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
        stream.on("close", (code: number | null) =>
          finish(undefined, { code: code ?? 255, stdout, stderr }),
        );
        stream.end(script);
      });
    });
    client.connect({
      host: endpoint.address,
      port: endpoint.port,
      username: endpoint.user,
      privateKey,
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: [pinned.type as "ssh-ed25519"] },
      hostVerifier: (key: Buffer) => {
        if (key.equals(pinned.blob)) return true;
        presented = key;
        return false;
      },
    });
  });
}
