// Real Kubernetes objects a test places through a server's `k3s kubectl` (the lab's real kubectl
// against the real apiserver): pods the drain has to deal with.
import { sh } from "./postCluster";

/** `k3s kubectl apply -f -` of `yaml` on the server at `address`. */
export function kubectlApply(address: string, name: string, yaml: string): string {
  const b64 = Buffer.from(yaml).toString("base64");
  return sh(address, name, `echo ${b64} | base64 -d | k3s kubectl apply -f -`);
}

/** One pod of a Deployment pinned to `node`, under a budget that allows no eviction: a drain of
 * that node waits on it until its --timeout. */
export function pinnedUnderBudget(node: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: pinned, namespace: default }
spec:
  replicas: 1
  selector: { matchLabels: { app: pinned } }
  template:
    metadata: { labels: { app: pinned } }
    spec:
      nodeSelector: { kubernetes.io/hostname: ${node} }
      containers: [{ name: pinned, image: registry.invalid/pinned:1 }]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: pinned, namespace: default }
spec: { minAvailable: 1, selector: { matchLabels: { app: pinned } } }
`;
}

/** A pod bound to \`node\` with no controller: \`kubectl drain\` without --force refuses it. */
export function barePod(node: string): string {
  return `apiVersion: v1
kind: Pod
metadata: { name: bare, namespace: default, labels: { app: bare } }
spec:
  nodeName: ${node}
  containers: [{ name: bare, image: registry.invalid/bare:1 }]
`;
}

/** Waits until the pods labelled app=<app> are Ready. */
export function waitPodsReady(address: string, name: string, app: string): void {
  sh(address, name, `k3s kubectl wait --for=condition=Ready pod -l app=${app} --timeout=90s`);
}
