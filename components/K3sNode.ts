import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec, NodeSpec } from "../config";
import { COMMON_COMMAND_ARGS, SshEndpoint, sshConnection, withRepairs } from "./connection";
import { refusalError } from "../errorStack";
import { OwnedVm, ownedVmRefusal } from "./ownedVm";
import { parseRollRecord, RollRecord } from "./reports";
import {
  K3S_CONFIG_FILE,
  prelude,
  renderClusterCheckScript,
  renderDiskCheckScript,
  renderDiskScript,
  renderDrainScript,
  renderFsyncGateScript,
  renderGateScript,
  renderK3sConfig,
  renderPrepareScript,
  renderRestartScript,
  renderTokenScript,
  DiskTarget,
  RollTarget,
  sha256,
} from "../render";

export interface K3sNodeArgs {
  /** The node, validated. */
  readonly node: NodeSpec;
  /** Cluster-wide settings the node's files and steps need. */
  readonly cluster: Pick<
    ClusterSpec,
    "registrationAddress" | "serverConfig" | "installerUrl" | "gateTimeoutSeconds" | "disk" | "roll"
  >;
  /** The Proxmox host running the VM. */
  readonly host: SshEndpoint & { readonly name: string };
  /** The server whose API the gate asks (the node itself when it is a server). */
  readonly gateVia: SshEndpoint;
  /** The servers whose etcd members' WAL fsync p99 must be under `roll.maxFsyncP99Ms` before
   * anything on this node changes (the other servers, for a server); default none. */
  readonly fsyncVia?: readonly (SshEndpoint & { readonly name: string })[];
  /** The SSH private key (a secret). */
  readonly privateKey: pulumi.Input<string>;
  /** The cluster token (a secret). */
  readonly token: pulumi.Input<string>;
  /** The agent token (a secret), when the cluster uses one; default none. */
  readonly agentToken?: pulumi.Input<string>;
  /** Drift repairs seen by a refresh; a new value runs the node's roll again. Default none. */
  readonly repairs?: pulumi.Input<number>;
  /** Kubernetes node names of the other nodes of its batch (`cluster.roll.agentBatch`), which
   * roll beside it: its cluster check lets them be down. Default none. */
  readonly batchMates?: readonly string[];
  /** Resources this node's roll waits for (the previous batch's gates); default none. */
  readonly after?: pulumi.Input<pulumi.Resource>[];
  /** The node's VM as the caller's own resource: it sets the disk options (etcdDiskTransform),
   * the roll waits for it and only restarts the VM. Default: the roll sets them with `qm set`. */
  readonly vm?: OwnedVm;
  /** sha256 of the config.yaml K3s started with, where preflight found that the stack's holds the
   * same settings (`Preflight.sameSettingsAs`): written without a restart. Default: a new
   * config.yaml restarts K3s. */
  readonly sameSettingsAs?: string;
}

/** The node's cluster check script, held until the VM resource is known not to reboot on its
 * own; a VM resource that would is refused (see `ownedVmRefusal`). */
function checkedAgainstVm(
  node: NodeSpec,
  script: pulumi.Input<string>,
  vm: OwnedVm | undefined,
): pulumi.Input<string> {
  if (!vm) return script;
  // Its own apply, so the refusal comes as soon as the VM's setting is known (at preview), even
  // while the script waits for values only an update knows.
  const allowed = vm.rebootAfterUpdate.apply((rebootAfterUpdate) => {
    const refusal = ownedVmRefusal(node, rebootAfterUpdate);
    if (refusal !== undefined) throw refusalError(refusal);
    return true;
  });
  return pulumi.all([allowed, script]).apply(([, text]) => text);
}

/** The node's /etc/rancher/k3s/config.yaml, as the roll writes it and preflight compares it. */
export function nodeConfigYaml(
  cluster: Pick<ClusterSpec, "registrationAddress" | "serverConfig">,
  node: NodeSpec,
  hasAgentToken: boolean,
): string {
  return renderK3sConfig({
    role: node.role,
    registrationAddress: cluster.registrationAddress,
    serverConfig: cluster.serverConfig,
    nodeConfig: node.config,
    hasAgentToken,
  });
}

/** Hash of everything the roll converges on this node: any change re-runs all its steps. The
 * drain settings count when drain is on, so turning it on or changing its timeout re-runs prepare
 * and the disk check too, and the drain never reads what an older run of them printed. */
export function rollFingerprint(
  node: NodeSpec,
  configYaml: string,
  disk: ClusterSpec["disk"],
  roll?: Pick<ClusterSpec["roll"], "drain" | "drainTimeoutSeconds">,
): string {
  const desired = {
    version: node.k3sVersion,
    configYaml,
    disk,
    controller: node.controllerChange,
    ...(node.applyPendingChanges ? { applyPending: true } : {}),
    ...(roll?.drain ? { drainTimeoutSeconds: roll.drainTimeoutSeconds } : {}),
  };
  return sha256(JSON.stringify(desired)).slice(0, 16);
}

/** Enough dial attempts (about 5 s apart) for a VM to come back within the gate's timeout. */
export function dialLimitFor(timeoutSeconds: number): number {
  return Math.ceil(timeoutSeconds / 5) + 10;
}

/**
 * One K3s node's roll, in order: a cluster health check, for a server the fsync gate on every
 * other server, the token files, prepare (snapshot, install without starting), disk options with
 * one `qm reboot`, K3s restart when still needed, and the gate. Every step checks live state
 * first and changes only what differs.
 */
export class K3sNode extends pulumi.ComponentResource {
  /** The last step of this node's roll: the next node's roll waits for it. */
  public readonly gate: command.remote.Command;
  /** What the disk step reported, ending with `current:` and `pending:` lines. */
  public readonly diskReport: pulumi.Output<string>;
  /** What the roll did the last time its steps ran: actions, snapshot, gate duration. */
  public readonly record: pulumi.Output<RollRecord>;

  constructor(name: string, args: K3sNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:k3s:K3sNode", name, {}, opts);
    const { node, cluster } = args;
    const configYaml = nodeConfigYaml(cluster, node, args.agentToken !== undefined);
    const target: RollTarget = {
      node: node.name,
      nodeName: node.nodeName,
      role: node.role,
      k3sVersion: node.k3sVersion,
      fingerprint: rollFingerprint(node, configYaml, cluster.disk, cluster.roll),
      ...(args.sameSettingsAs
        ? { sameSettings: { startedWith: args.sameSettingsAs, desired: sha256(configYaml) } }
        : {}),
    };
    const drain = cluster.roll.drain;
    const guest = sshConnection(node, args.privateKey);
    const guestAfterRestart = sshConnection(
      node,
      args.privateKey,
      dialLimitFor(cluster.gateTimeoutSeconds),
    );
    const leaves = (what: string) => `${prelude(node.name)}\nsay "destroy leaves ${what}"`;

    const gateConnection = sshConnection(
      args.gateVia,
      args.privateKey,
      dialLimitFor(cluster.gateTimeoutSeconds),
    );
    const check = new command.remote.Command(
      `${name}-check`,
      {
        ...COMMON_COMMAND_ARGS,
        connection: gateConnection,
        create: checkedAgainstVm(
          node,
          withRepairs(renderClusterCheckScript(target, args.batchMates), args.repairs),
          args.vm,
        ),
      },
      { parent: this, dependsOn: [...(args.after ?? []), ...(args.vm ? [args.vm] : [])] },
    );
    // Each other member's WAL fsync, read on its own server (K3s serves etcd's metrics on
    // loopback only), before anything here changes. Same triggers as the check.
    const fsyncGates = (args.fsyncVia ?? []).map(
      (other) =>
        new command.remote.Command(
          `${name}-fsync-${other.name}`,
          {
            ...COMMON_COMMAND_ARGS,
            connection: sshConnection(other, args.privateKey),
            create: withRepairs(
              renderFsyncGateScript(target, other.name, {
                maxP99Ms: cluster.roll.maxFsyncP99Ms,
                waitSeconds: cluster.gateTimeoutSeconds,
              }),
              args.repairs,
            ),
          },
          { parent: this, dependsOn: [check] },
        ),
    );
    const token = new command.remote.Command(
      `${name}-token`,
      {
        ...COMMON_COMMAND_ARGS,
        connection: guest,
        create: renderTokenScript(node.name, node.role),
        stdin: pulumi.secret(pulumi.interpolate`${args.token}\n${args.agentToken ?? ""}\n`),
        logging: "none",
        delete: leaves("the K3s token files in /etc/rancher/k3s"),
      },
      {
        parent: this,
        dependsOn: fsyncGates.length > 0 ? fsyncGates : [check],
        additionalSecretOutputs: ["stdout", "stderr"],
      },
    );
    const prepare = new command.remote.Command(
      `${name}-prepare`,
      {
        ...COMMON_COMMAND_ARGS,
        connection: guest,
        create: withRepairs(
          renderPrepareScript(
            target,
            configYaml,
            cluster.installerUrl,
            node.controllerChange,
            drain,
            cluster.roll.keepSnapshots,
          ),
          args.repairs,
        ),
        delete: leaves(`${K3S_CONFIG_FILE} and K3s ${node.k3sVersion} installed`),
      },
      { parent: this, dependsOn: [token] },
    );
    const diskTarget: DiskTarget = {
      who: `${node.name} (VM ${node.vmid} on ${args.host.name})`,
      vmid: node.vmid,
      disk: node.disk,
      cache: cluster.disk.cache,
      iothread: cluster.disk.iothread,
      controllerChange: node.controllerChange,
      applyPendingChanges: node.applyPendingChanges,
      rebootTimeoutSeconds: cluster.gateTimeoutSeconds,
      fingerprint: target.fingerprint,
      optionsOwner: args.vm ? "vm-resource" : "roll",
    };
    // Optional: cordon and drain, only when the prepare step or the disk check says a restart
    // follows (they print `restart-follows ...`; the drain reads both on stdin).
    let drained: command.remote.Command | undefined;
    if (drain) {
      const diskCheck = new command.remote.Command(
        `${name}-disk-check`,
        {
          ...COMMON_COMMAND_ARGS,
          connection: sshConnection(args.host, args.privateKey),
          create: withRepairs(renderDiskCheckScript(diskTarget), args.repairs),
        },
        { parent: this, dependsOn: [prepare] },
      );
      drained = new command.remote.Command(
        `${name}-drain`,
        {
          ...COMMON_COMMAND_ARGS,
          connection: gateConnection,
          create: withRepairs(
            renderDrainScript(target, cluster.roll.drainTimeoutSeconds),
            args.repairs,
          ),
          stdin: pulumi.interpolate`${prepare.stdout}\n${diskCheck.stdout}\n`,
        },
        { parent: this, dependsOn: [diskCheck] },
      );
    }
    const disk = new command.remote.Command(
      `${name}-disk`,
      {
        ...COMMON_COMMAND_ARGS,
        connection: sshConnection(args.host, args.privateKey),
        create: withRepairs(renderDiskScript(diskTarget), args.repairs),
        delete: leaves(`the disk options of VM ${node.vmid} as they are`),
      },
      { parent: this, dependsOn: drained ? [drained] : [prepare] },
    );
    const restart = new command.remote.Command(
      `${name}-restart`,
      {
        ...COMMON_COMMAND_ARGS,
        connection: guestAfterRestart,
        create: withRepairs(renderRestartScript(target, cluster.gateTimeoutSeconds), args.repairs),
      },
      { parent: this, dependsOn: [disk] },
    );
    this.gate = new command.remote.Command(
      `${name}-gate`,
      {
        ...COMMON_COMMAND_ARGS,
        connection: gateConnection,
        create: withRepairs(renderGateScript(target, cluster.gateTimeoutSeconds), args.repairs),
      },
      { parent: this, dependsOn: [restart] },
    );
    this.diskReport = disk.stdout;
    this.record = pulumi
      .all([prepare.stdout, drained?.stdout ?? "", disk.stdout, restart.stdout, this.gate.stdout])
      .apply(parseRollRecord);
    this.registerOutputs({ gate: this.gate, diskReport: this.diskReport, record: this.record });
  }
}
