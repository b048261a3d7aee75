import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMMON_COMMAND_ARGS, SshEndpoint, sshConnection, withRepairs } from "./connection";
import {
  SYSCTL_FILE,
  removeFileIfOwned,
  prelude,
  renderSysctlApplyScript,
  renderSysctlFile,
  sha256,
} from "../render";

export interface GuestSysctlArgs {
  /** The guest to tune; its name appears in every message. */
  readonly node: string;
  /** How to reach the guest. */
  readonly endpoint: SshEndpoint;
  /** The SSH private key (a secret). */
  readonly privateKey: pulumi.Input<string>;
  /** sysctl keys and values for /etc/sysctl.d/99-etcd.conf. */
  readonly sysctl: Readonly<Record<string, string>>;
  /** Drift repairs seen by a refresh; a new value runs the step again. Default none. */
  readonly repairs?: pulumi.Input<number>;
}

/** /etc/sysctl.d/99-etcd.conf on one guest, applied live from that file only. Disturbs nothing,
 * so it runs on every node in parallel. */
export class GuestSysctl extends pulumi.ComponentResource {
  /** The step's output: what it wrote, applied and found overridden by later files. */
  public readonly report: pulumi.Output<string>;

  constructor(name: string, args: GuestSysctlArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:guest:GuestSysctl", name, {}, opts);
    const owner = `${name}-apply`;
    const content = renderSysctlFile(owner, args.sysctl);
    const apply = new command.remote.Command(
      owner,
      {
        ...COMMON_COMMAND_ARGS,
        connection: sshConnection(args.endpoint, args.privateKey),
        create: withRepairs(renderSysctlApplyScript(args.node, content, args.sysctl), args.repairs),
        delete: [
          prelude(args.node),
          removeFileIfOwned(SYSCTL_FILE, sha256(content)),
          'say "live sysctl values stay until the next boot"',
        ].join("\n"),
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.report = apply.stdout;
    this.registerOutputs({ report: this.report });
  }
}
