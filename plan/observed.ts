import {
  EtcdMember,
  ApiNode,
  HostObservation,
  NodeObservation,
  reachable,
  Unreachable,
} from "../probe/observations";

/** What the read-only probe saw of every node and Proxmox host. */
export interface Observed {
  readonly nodes: ReadonlyMap<string, NodeObservation | Unreachable>;
  readonly hosts: ReadonlyMap<string, HostObservation | Unreachable>;
}

/** etcd's member list as the first server that answered reports it. */
export function etcdMemberList(observed: Observed): readonly EtcdMember[] | undefined {
  return [...observed.nodes.values()].filter(reachable).find((v) => v.etcdMembers)?.etcdMembers;
}

/** The cluster's nodes as the first server whose API answered reports them. */
export function apiNodeList(observed: Observed): readonly ApiNode[] | undefined {
  return [...observed.nodes.values()].filter(reachable).find((v) => v.apiNodes)?.apiNodes;
}
