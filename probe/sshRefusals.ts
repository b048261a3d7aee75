import { createHash } from "crypto";
import { utils } from "ssh2";

/** What a refusal message needs to know of the machine. */
export interface RefusedEndpoint {
  readonly address: string;
  readonly port: number;
  readonly user: string;
}

/** OpenSSH's fingerprint of a public key blob, as `ssh-keygen -lf` prints it: `SHA256:` and the
 * digest in base64 with its `=` padding trimmed (openssh-portable `sshkey.c` `fingerprint_b64`). */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The fingerprint of the public half of a private key, or undefined if ssh2 cannot parse it. */
export function clientKeyFingerprint(privateKey: string): string | undefined {
  const parsed = utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) return undefined;
  return fingerprint(key.getPublicSSH());
}

/** The name ssh-keyscan's `-t` and sshd's host key files use for a key type. */
function shortType(type: string): string {
  if (type.startsWith("ecdsa-")) return "ecdsa";
  return type.replace(/^ssh-/, "");
}

const keyscan = (e: RefusedEndpoint, type: string) =>
  `ssh-keyscan -t ${shortType(type)}${e.port === 22 ? "" : ` -p ${e.port}`} ${e.address}`;

/**
 * The machine presented another host key than the stack pins. Either it was reinstalled or its
 * keys regenerated (pin the new one, after checking it on the console), or something is between us.
 */
export function hostKeyChanged(
  endpoint: RefusedEndpoint,
  type: string,
  presented: Buffer,
  pinned: Buffer,
): string {
  return (
    `its host key changed: it presents ${type} ${fingerprint(presented)}, the stack's hostKey pins ${fingerprint(pinned)}, refusing to connect. ` +
    `If it was reinstalled or its host keys regenerated, compare with \`ssh-keygen -lf /etc/ssh/ssh_host_${shortType(type)}_key.pub\` on its console, ` +
    `then put the output of \`${keyscan(endpoint, type)}\` into its hostKey in the stack file; if not, something may be between you and it`
  );
}

/** The machine answered but accepts none of our keys for the user. */
export function keyRefused(endpoint: RefusedEndpoint, clientKey: string | undefined): string {
  const home = endpoint.user === "root" ? "/root" : `/home/${endpoint.user}`;
  return (
    `it refuses our SSH key (user ${endpoint.user}${clientKey ? `, key ${clientKey}` : ""}, the secret sshPrivateKey): ` +
    `add its public key to ${home}/.ssh/authorized_keys there (\`ssh-copy-id -i KEY.pub ${endpoint.user}@${endpoint.address}\`), ` +
    `or set the key it accepts with \`pulumi config set --secret sshPrivateKey < KEY\``
  );
}
