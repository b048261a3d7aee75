import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { NodeSpec } from "../config";
import { COMMON_COMMAND_ARGS, SshEndpoint, sshConnection } from "./connection";
import { dialLimitFor } from "./K3sNode";
import { renderGateScript, renderRepairScript, RollTarget, sha256 } from "../render";

export interface NodeRepairArgs {
  readonly node: NodeSpec;
  /** What preflight found wrong with the node; default none (healthy then). */
  readonly reason?: string;
  /** The server whose API (and, for itself, etcd member) the repair gate asks. */
  readonly gateVia: SshEndpoint;
  readonly privateKey: pulumi.Input<string>;
  /** Longest wait for the node to come back. */
  readonly gateTimeoutSeconds: number;
  /** Resources this repair waits for (the previous node's repair gate); default none. */
  readonly after?: pulumi.Input<pulumi.Resource>[];
}

/** The repair steps' desired state: what preflight found, so a new finding runs them again and a
 * healthy cluster leaves them unchanged. */
export function repairTarget(node: NodeSpec, reason: string | undefined): RollTarget {
  return {
    node: node.name,
    nodeName: node.nodeName,
    role: node.role,
    k3sVersion: node.k3sVersion,
    fingerprint: sha256(`repair: ${reason ?? "healthy at preflight"}`).slice(0, 16),
  };
}

/**
 * Repair mode (`cluster.roll.repair`), per node before the roll: restart its K3s only if it is
 * still unhealthy, then wait until it is Ready with a healthy etcd member and a leader.
 */
export class NodeRepair extends pulumi.ComponentResource {
  /** The next node's repair (and, after the last, the roll) waits for it. */
  public readonly gate: command.remote.Command;

  constructor(name: string, args: NodeRepairArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:k3s:NodeRepair", name, {}, opts);
    const target = repairTarget(args.node, args.reason);
    const dialLimit = dialLimitFor(args.gateTimeoutSeconds);
    const restart = new command.remote.Command(
      `${name}-restart`,
      {
        ...COMMON_COMMAND_ARGS,
        connection: sshConnection(args.node, args.privateKey, dialLimit),
        create: renderRepairScript(target, args.gateTimeoutSeconds, args.reason),
      },
      { parent: this, dependsOn: args.after },
    );
    this.gate = new command.remote.Command(
      `${name}-gate`,
      {
        ...COMMON_COMMAND_ARGS,
        connection: sshConnection(args.gateVia, args.privateKey, dialLimit),
        create: renderGateScript(target, args.gateTimeoutSeconds, "repair"),
      },
      { parent: this, dependsOn: [restart] },
    );
    this.registerOutputs({ gate: this.gate });
  }
}
