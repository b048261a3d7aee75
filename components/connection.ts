import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

/** Where and as whom to log in; the host key is always pinned. */
export interface SshEndpoint {
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly hostKey: string;
}

/** Dial attempts (with the provider's backoff, about 5 s apart once it has backed off) before a
 * step gives up on an unreachable machine. */
export const DEFAULT_DIAL_ERROR_LIMIT = 10;

/** Connection args for remote.Command. The private key is a secret Output, so the provider keeps
 * the whole connection secret in state. */
export function sshConnection(
  endpoint: SshEndpoint,
  privateKey: pulumi.Input<string>,
  dialErrorLimit: number = DEFAULT_DIAL_ERROR_LIMIT,
): command.types.input.remote.ConnectionArgs {
  return {
    host: endpoint.address,
    port: endpoint.port,
    user: endpoint.user,
    hostKey: endpoint.hostKey,
    privateKey: pulumi.secret(privateKey),
    dialErrorLimit,
    perDialTimeout: 15,
  };
}

/** Options every remote step shares: no stdout/stderr of an earlier run leaks into the next. */
export const COMMON_COMMAND_ARGS = { addPreviousOutputInEnv: false } as const;

/** A script that carries the node's drift-repair count in a comment: when a refresh finds drift,
 * the count goes up and the step runs again (it converges only what differs). */
export function withRepairs(
  script: string,
  repairs: pulumi.Input<number> | undefined,
): pulumi.Input<string> {
  return repairs === undefined
    ? script
    : pulumi.interpolate`${script}# drift repairs: ${repairs}\n`;
}
