import * as pulumi from "@pulumi/pulumi";
import { ClusterSecrets, ClusterSpec } from "../config";
import { GuestSysctl } from "./GuestSysctl";
import { K3sNode } from "./K3sNode";
import { desiredLiveValues, NodeLiveState } from "./NodeLiveState";
import { NodeRepair } from "./NodeRepair";
import { OwnedVm, unknownVmNodes } from "./ownedVm";
import { refusalError } from "../errorStack";
import { ProxmoxHost } from "./ProxmoxHost";
import { parseDiskReport, parseSysctlOverrides, RollRecord } from "./reports";
import { rollBatches, rollPlan } from "./rollPlan";

export interface HomelabClusterArgs {
  /** The validated cluster spec. */
  readonly spec: ClusterSpec;
  /** SSH key and join tokens, as secret Outputs. */
  readonly secrets: ClusterSecrets<pulumi.Input<string>>;
  /** Repair mode (`cluster.roll.repair`): per unhealthy node, what preflight found; each node's
   * K3s restarts first when still unhealthy, before the roll. Default: no repair steps. */
  readonly repair?: Readonly<Record<string, string>>;
  /** Per node name, the node's VM as the caller's own resource (e.g. a `proxmoxve.VmLegacy`
   * changed by etcdDiskTransform): it owns the disk options, the roll only the restart.
   * Default none: every node's roll sets its disk options with `qm set`. */
  readonly vms?: Readonly<Record<string, OwnedVm>>;
  /** Per node name, from preflight (`Preflight.sameSettingsAs`): the sha256 of the config.yaml K3s
   * started with, where the stack's holds the same settings; default none. */
  readonly sameSettingsAs?: Readonly<Record<string, string>>;
}

/** Per node, what the stack reports after `pulumi up`. */
export interface NodeReport {
  readonly role: string;
  readonly k3sVersion: string;
  readonly sysctl: Readonly<Record<string, string>>;
  readonly sysctlOverriddenBy: pulumi.Output<string[]>;
  readonly disk: pulumi.Output<{ current: string; pending: string }>;
  readonly hostTxg: pulumi.Output<string>;
  readonly roll: pulumi.Output<RollRecord>;
}

/**
 * The whole homelab: ZFS on every Proxmox host and sysctl on every guest in parallel (they
 * disturb nothing), then each node's roll in `rollBatches()` order: servers one at a time, agents
 * in batches rolled together, each batch waiting for every gate of the previous one.
 */
export class HomelabCluster extends pulumi.ComponentResource {
  public readonly hosts: Record<string, ProxmoxHost> = {};
  public readonly nodes: Record<string, K3sNode> = {};
  /** Repair mode only: each node's repair steps. */
  public readonly repairSteps: Record<string, NodeRepair> = {};
  public readonly sysctl: Record<string, GuestSysctl> = {};
  public readonly report: Record<string, NodeReport> = {};

  constructor(name: string, args: HomelabClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homelab:cluster:HomelabCluster", name, {}, opts);
    const { spec, secrets } = args;
    const unknown = unknownVmNodes(spec.nodes, args.vms ?? {});
    if (unknown.length > 0) throw refusalError(unknown.join("\n"));
    const privateKey = secrets.sshPrivateKey;
    for (const host of spec.hosts) {
      this.hosts[host.name] = new ProxmoxHost(
        host.name,
        { endpoint: host, privateKey, zfsTxgTimeout: spec.zfsTxgTimeout },
        { parent: this },
      );
    }
    const hasAgentToken = secrets.agentToken !== undefined;
    const repairs: Record<string, pulumi.Output<number>> = {};
    for (const node of spec.nodes) {
      const host = spec.hosts.find((h) => h.name === node.host)!;
      repairs[node.name] = new NodeLiveState(
        `${node.name}-live`,
        {
          node: node.name,
          values: desiredLiveValues(spec, node, hasAgentToken),
          target: pulumi.secret(
            pulumi.output(privateKey).apply((key) => ({
              guest: {
                address: node.address,
                port: node.port,
                user: node.user,
                hostKey: node.hostKey,
              },
              host: {
                address: host.address,
                port: host.port,
                user: host.user,
                hostKey: host.hostKey,
              },
              privateKey: key,
              vmid: node.vmid,
              diskKey: node.disk,
              sysctlKeys: Object.keys(node.sysctl),
            })),
          ),
        },
        { parent: this },
      ).repairs;
      this.sysctl[node.name] = new GuestSysctl(
        `${node.name}-sysctl`,
        {
          node: node.name,
          endpoint: node,
          privateKey,
          sysctl: node.sysctl,
          repairs: repairs[node.name],
        },
        { parent: this },
      );
    }
    let previous: { gate: pulumi.Resource } | undefined;
    if (args.repair) {
      for (const { node, gateVia } of rollPlan(spec)) {
        previous = this.repairSteps[node.name] = new NodeRepair(
          `${node.name}-repair`,
          {
            node,
            reason: args.repair[node.name],
            gateVia,
            privateKey,
            gateTimeoutSeconds: spec.gateTimeoutSeconds,
            after: previous ? [previous.gate] : undefined,
          },
          { parent: this },
        );
      }
    }
    let after = previous ? [previous.gate] : undefined;
    for (const batch of rollBatches(spec)) {
      const gates = batch.map(({ node, gateVia, fsyncVia, batchMates }) => {
        const host = spec.hosts.find((h) => h.name === node.host)!;
        this.nodes[node.name] = new K3sNode(
          node.name,
          {
            node,
            cluster: spec,
            host,
            gateVia,
            fsyncVia,
            batchMates: batchMates.map((n) => n.nodeName),
            privateKey,
            token: secrets.token,
            agentToken: secrets.agentToken,
            repairs: repairs[node.name],
            after,
            vm: args.vms?.[node.name],
            sameSettingsAs: args.sameSettingsAs?.[node.name],
          },
          { parent: this },
        );
        return this.nodes[node.name].gate;
      });
      after = gates;
    }
    for (const node of spec.nodes) {
      this.report[node.name] = {
        role: node.role,
        k3sVersion: node.k3sVersion,
        sysctl: node.sysctl,
        sysctlOverriddenBy: this.sysctl[node.name].report.apply(parseSysctlOverrides),
        disk: this.nodes[node.name].diskReport.apply(parseDiskReport),
        hostTxg: this.hosts[node.host].report.apply((r) => r.trim().split("\n").pop() ?? ""),
        roll: this.nodes[node.name].record,
      };
    }
    this.registerOutputs({ report: this.report });
  }
}
