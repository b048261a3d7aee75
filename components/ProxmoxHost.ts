import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMMON_COMMAND_ARGS, SshEndpoint, sshConnection } from "./connection";
import {
  MODPROBE_FILE,
  prelude,
  removeFileIfOwned,
  renderModprobeFile,
  renderZfsTxgScript,
  sha256,
} from "../render";

export interface ProxmoxHostArgs {
  /** How to reach the Proxmox host. */
  readonly endpoint: SshEndpoint;
  /** The SSH private key (a secret). */
  readonly privateKey: pulumi.Input<string>;
  /** zfs_txg_timeout in seconds, at boot and live. */
  readonly zfsTxgTimeout: number;
}

/** One physical Proxmox host, however many nodes it runs: the ZFS txg timeout. */
export class ProxmoxHost extends pulumi.ComponentResource {
  /** What the step reported (value set, or that the host has no ZFS). */
  public readonly report: pulumi.Output<string>;

  constructor(name: string, args: ProxmoxHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:proxmox:ProxmoxHost", name, {}, opts);
    const owner = `${name}-zfs-txg`;
    const content = renderModprobeFile(owner, args.zfsTxgTimeout);
    const txg = new command.remote.Command(
      owner,
      {
        ...COMMON_COMMAND_ARGS,
        connection: sshConnection(args.endpoint, args.privateKey),
        create: renderZfsTxgScript(name, content, args.zfsTxgTimeout),
        delete: [
          prelude(name),
          removeFileIfOwned(MODPROBE_FILE, sha256(content)),
          'say "the live zfs_txg_timeout stays until the module reloads"',
          '[ "$(findmnt -n -o FSTYPE / 2>/dev/null)" != zfs ] || say "root is on ZFS: run update-initramfs -u -k all to drop the option from every initramfs"',
        ].join("\n"),
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.report = txg.stdout;
    this.registerOutputs({ report: this.report });
  }
}
