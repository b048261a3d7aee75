// What discover says about the host keys it scans: the owner compares the fingerprints, and a key
// that changes between the scan and the connection is refused.
import { fingerprint } from "../probe/sshRefusals";

export interface Scanned {
  readonly name: string;
  readonly address: string;
  /** `ssh-ed25519 AAAA...` as ssh-keyscan read it. */
  readonly hostKey: string;
}

const blob = (line: string) => Buffer.from(line.split(" ")[1] ?? "", "base64");

/** One line per scanned machine, to compare with `ssh-keygen -lf` on its console. */
export function fingerprintLines(scanned: readonly Scanned[]): string[] {
  return scanned.map(
    (s) => `  ${s.name} (${s.address}): ${s.hostKey.split(" ")[0]} ${fingerprint(blob(s.hostKey))}`,
  );
}

export const CONFIRM_PROMPT =
  "Compare each with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on that machine's console. Connect to these keys? [yes/no] ";

/** Only a typed `yes` (or `y`) confirms; anything else, and end of input, does not. */
export function confirmed(answer: string | undefined): boolean {
  return answer !== undefined && /^\s*y(es)?\s*$/i.test(answer);
}

/** The connection met another key than the scan read: nothing of that machine is trusted. */
export function keyChangedSinceScan(s: Scanned, presented: Buffer): string {
  return (
    `${s.name} (${s.address}): its host key changed between the scan and the connection: ` +
    `ssh-keyscan read ${fingerprint(blob(s.hostKey))}, the connection presented ${fingerprint(presented)}; ` +
    "refusing to connect, and no file is written. Run discover again once you know why (a reinstall, regenerated host keys), or suspect something between you and it"
  );
}
