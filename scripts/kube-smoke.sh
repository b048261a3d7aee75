#!/usr/bin/env bash
# scripts/kube-smoke.sh: prove the binaries scripts/kube.sh builds, standalone, as K3s runs them.
#
# In a private network namespace (only its own loopback; nothing reaches the machine's network),
# with certificates laid out as K3s's pkg/daemons/control/deps/deps.go names them in a throwaway
# data dir: a one-member etcd with K3s's TLS listeners, kube-apiserver on 127.0.0.1:6444 (K3s's
# APIServerPort, HTTPSPort + 1) with the args of K3s's pkg/daemons/control/server.go apiServer(),
# kube-controller-manager with controllerManager()'s args and leader election, a Node registered
# as a K3s kubelet registers it (kubeletVersion v1.33.6+k3s1), kwok --manage-single-node playing
# that node's kubelet with a system:node:<name> client certificate. Then, with the built kubectl:
# the node goes Ready, is cordoned, and after kwok stops the node-lifecycle controller marks it
# NotReady (Unknown) after --node-monitor-grace-period (20 s here; 40 s is upstream's default).
# On the way, with kube-scheduler placing the pods: a Deployment under a PodDisruptionBudget and a
# bare pod; `kubectl drain` (the program's flags, no --force) fails on the bare pod, then is held
# by the budget until its --timeout.
# Where this differs from K3s: no supervisor proxying 6443 to the API (clients use 6444 directly);
# no --advertise-port (a flag of K3s's k3s-io/kubernetes fork that upstream's kube-apiserver lacks:
# "unknown flag"); no egress selector; no embedded cloud-controller-manager; kwok needs a role
# for the node, pod and lease reads a kubelet does not make (see below).
# Prints what it saw, the time to a ready API and each process's peak RSS; exits non-zero on the
# first thing that does not hold. Leaves nothing behind (the namespace dies with the script).
#
# Usage: bash scripts/kube-smoke.sh   (root; etcd from scripts/etcd.sh, or ETCD_BIN_DIR=...)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ "${1:-}" != "--inside" ]]; then
  kube_bin="$(bash "$here/kube.sh")"
  if [[ -z "${ETCD_BIN_DIR:-}" ]]; then
    if [[ ! -f "$here/etcd.sh" ]]; then
      echo "kube-smoke: no scripts/etcd.sh here; set ETCD_BIN_DIR to a dir with etcd" >&2
      exit 1
    fi
    ETCD_BIN_DIR="$(bash "$here/etcd.sh")"
  fi
  export KUBE_BIN="$kube_bin" ETCD_BIN_DIR
  exec unshare --net --fork -- bash "${BASH_SOURCE[0]}" --inside
fi

ip link set lo up
# The node's address (K3s's advertise-address is the node IP; the API refuses a loopback one for
# the kubernetes Endpoints). TEST-NET-1, on this namespace's own loopback only.
node_ip=192.0.2.10
ip addr add "$node_ip/32" dev lo
node=lab-smoke-node
work="$(mktemp -d /tmp/kube-smoke.XXXXXX)"
pids=()
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf 'kube-smoke: %s\n' "$*"; }
fail() {
  say "FAILED: $*"
  for f in "$work"/*.log; do
    echo "--- tail of $f"
    tail -n 15 "$f"
  done
  exit 1
}

tls="$work/server/tls"
mkdir -p "$tls/etcd" "$work/server/db/etcd" "$work/server/cred"
key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ca() { # dir/name, CN
  openssl req -x509 "${key[@]}" -keyout "$1.key" -out "$1.crt" -days 2 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign 2>/dev/null
}
leaf() { # ca path, leaf path, subject, extendedKeyUsage, [subjectAltName]
  local ext="$2.ext"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >"$ext"
  printf 'extendedKeyUsage=%s\n' "$4" >>"$ext"
  [[ -z "${5:-}" ]] || printf 'subjectAltName=%s\n' "$5" >>"$ext"
  openssl req -new "${key[@]}" -keyout "$2.key" -subj "$3" 2>/dev/null |
    openssl x509 -req -CA "$1.crt" -CAkey "$1.key" -CAcreateserial -days 2 -extfile "$ext" \
      -out "$2.crt" 2>/dev/null
}
kubeconfig() { # file, client cert name, server
  cat >"$1" <<EOF
apiVersion: v1
clusters:
- cluster:
    server: $3
    certificate-authority: $tls/server-ca.crt
  name: local
contexts:
- context:
    cluster: local
    namespace: default
    user: user
  name: Default
current-context: Default
kind: Config
preferences: {}
users:
- name: user
  user:
    client-certificate: $tls/$2.crt
    client-key: $tls/$2.key
EOF
}

# etcd (genETCDCerts) and Kubernetes (genClientCerts, genServerCerts, genRequestHeaderCerts).
ca "$tls/etcd/server-ca" "etcd-server-ca@$(date +%s)"
leaf "$tls/etcd/server-ca" "$tls/etcd/server-client" /CN=etcd-server serverAuth,clientAuth \
  "DNS:localhost,IP:127.0.0.1"
leaf "$tls/etcd/server-ca" "$tls/etcd/client" /CN=etcd-client clientAuth
ca "$tls/client-ca" "k3s-client-ca@$(date +%s)"
ca "$tls/server-ca" "k3s-server-ca@$(date +%s)"
ca "$tls/request-header-ca" "k3s-request-header-ca@$(date +%s)"
leaf "$tls/client-ca" "$tls/client-admin" "/O=system:masters/CN=system:admin" clientAuth
leaf "$tls/client-ca" "$tls/client-controller" /CN=system:kube-controller-manager clientAuth
leaf "$tls/client-ca" "$tls/client-scheduler" /CN=system:kube-scheduler clientAuth
leaf "$tls/client-ca" "$tls/client-kube-apiserver" "/O=system:masters/CN=system:apiserver" clientAuth
leaf "$tls/client-ca" "$tls/client-kubelet-$node" "/O=system:nodes/CN=system:node:$node" clientAuth
leaf "$tls/server-ca" "$tls/serving-kube-apiserver" /CN=kube-apiserver serverAuth \
  "IP:$node_ip,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:10.43.0.1"
leaf "$tls/request-header-ca" "$tls/client-auth-proxy" /CN=system:auth-proxy clientAuth
openssl genrsa -out "$tls/service.key" 2048 2>/dev/null
cp "$tls/service.key" "$tls/service.current.key"
api=https://127.0.0.1:6444
kubeconfig "$work/server/cred/admin.kubeconfig" client-admin "$api"
kubeconfig "$work/server/cred/controller.kubeconfig" client-controller "$api"
kubeconfig "$work/server/cred/scheduler.kubeconfig" client-scheduler "$api"
kubeconfig "$work/kubelet.kubeconfig" "client-kubelet-$node" "$api"
kubectl() { "$KUBE_BIN/kubectl" --kubeconfig "$work/server/cred/admin.kubeconfig" "$@"; }

e="$tls/etcd"
"$ETCD_BIN_DIR/etcd" --name "$node-0123abcd" --data-dir "$work/server/db/etcd" \
  --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster "$node-0123abcd=http://127.0.0.1:2380" \
  --listen-metrics-urls http://127.0.0.1:2381 --client-cert-auth \
  --trusted-ca-file "$e/server-ca.crt" --cert-file "$e/server-client.crt" \
  --key-file "$e/server-client.key" >"$work/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  curl -fsS http://127.0.0.1:2381/health 2>/dev/null | grep -q '"health":"true"' && break
  sleep 0.2
done
curl -fsS http://127.0.0.1:2381/health | grep -q '"health":"true"' || fail "etcd not healthy"
say "etcd: $("$ETCD_BIN_DIR/etcd" --version | head -n1)"

# apiServer() in K3s's pkg/daemons/control/server.go, with K3s's defaults (cluster-domain
# cluster.local, service CIDR 10.43.0.0/16, node ports 30000-32767, egress selector off here).
started=$(date +%s.%N)
"$KUBE_BIN/kube-apiserver" \
  --storage-backend etcd3 --etcd-servers https://127.0.0.1:2379 \
  --etcd-cafile "$e/server-ca.crt" --etcd-certfile "$e/client.crt" --etcd-keyfile "$e/client.key" \
  --cert-dir "$tls/temporary-certs" --allow-privileged=true --enable-bootstrap-token-auth=true \
  --authorization-mode Node,RBAC --anonymous-auth=false \
  --service-account-signing-key-file "$tls/service.current.key" \
  --service-account-key-file "$tls/service.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --api-audiences https://kubernetes.default.svc.cluster.local,k3s \
  --service-cluster-ip-range 10.43.0.0/16 --service-node-port-range 30000-32767 \
  --advertise-address "$node_ip" --secure-port 6444 --bind-address 127.0.0.1 \
  --tls-cert-file "$tls/serving-kube-apiserver.crt" \
  --tls-private-key-file "$tls/serving-kube-apiserver.key" \
  --kubelet-certificate-authority "$tls/server-ca.crt" \
  --kubelet-client-certificate "$tls/client-kube-apiserver.crt" \
  --kubelet-client-key "$tls/client-kube-apiserver.key" \
  --kubelet-preferred-address-types InternalIP,ExternalIP,Hostname \
  --requestheader-client-ca-file "$tls/request-header-ca.crt" \
  --requestheader-allowed-names system:auth-proxy \
  --proxy-client-cert-file "$tls/client-auth-proxy.crt" \
  --proxy-client-key-file "$tls/client-auth-proxy.key" \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --requestheader-group-headers X-Remote-Group --requestheader-username-headers X-Remote-User \
  --client-ca-file "$tls/client-ca.crt" --enable-admission-plugins NodeRestriction \
  --profiling=false >"$work/kube-apiserver.log" 2>&1 &
pids+=($!)
apiserver_pid=$!
for _ in $(seq 150); do
  [[ "$(kubectl get --raw /readyz 2>/dev/null)" == ok ]] && break
  sleep 0.2
done
[[ "$(kubectl get --raw /readyz 2>/dev/null)" == ok ]] || fail "kube-apiserver not ready in 30 s"
ready_s=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
say "kube-apiserver ready in ${ready_s} s: $(kubectl version | grep -v Kustomize | tr '\n' ' ')"

# controllerManager() (K3s's embedded CCM is not run here, so its -service,-route,
# -cloud-node-lifecycle are not removed), leader election on (K3s's default).
"$KUBE_BIN/kube-controller-manager" --controllers '*,tokencleaner' \
  --kubeconfig "$work/server/cred/controller.kubeconfig" \
  --authorization-kubeconfig "$work/server/cred/controller.kubeconfig" \
  --authentication-kubeconfig "$work/server/cred/controller.kubeconfig" \
  --service-account-private-key-file "$tls/service.current.key" \
  --allocate-node-cidrs=true --service-cluster-ip-range 10.43.0.0/16 --cluster-cidr 10.42.0.0/16 \
  --root-ca-file "$tls/server-ca.crt" --profiling=false --bind-address 127.0.0.1 \
  --secure-port 10257 --use-service-account-credentials=true \
  --cluster-signing-kube-apiserver-client-cert-file "$tls/client-ca.crt" \
  --cluster-signing-kube-apiserver-client-key-file "$tls/client-ca.key" \
  --cluster-signing-kubelet-client-cert-file "$tls/client-ca.crt" \
  --cluster-signing-kubelet-client-key-file "$tls/client-ca.key" \
  --cluster-signing-kubelet-serving-cert-file "$tls/server-ca.crt" \
  --cluster-signing-kubelet-serving-key-file "$tls/server-ca.key" \
  --cluster-signing-legacy-unknown-cert-file "$tls/server-ca.crt" \
  --cluster-signing-legacy-unknown-key-file "$tls/server-ca.key" \
  --leader-elect=true --node-monitor-grace-period 20s >"$work/kube-controller-manager.log" 2>&1 &
pids+=($!)
kcm_pid=$!

# scheduler() (its serving certificate is left to the scheduler's self-signed default here).
sched="$work/server/cred/scheduler.kubeconfig"
"$KUBE_BIN/kube-scheduler" --kubeconfig "$sched" --authorization-kubeconfig "$sched" \
  --authentication-kubeconfig "$sched" --bind-address 127.0.0.1 --secure-port 10259 \
  --profiling=false >"$work/kube-scheduler.log" 2>&1 &
pids+=($!)
sched_pid=$!

# kwok plays the kubelet with the kubelet's identity (system:node:<name>, group system:nodes), so
# the Node authorizer and NodeRestriction admission limit its writes as they limit a kubelet's.
# Unlike a kubelet it lists every node and pod at start (waitForReady, its informers), which the
# Node authorizer leaves to RBAC (no opinion): this role grants only those reads.
kubectl apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "k3s-homelab-lab:kwok" }
rules:
  - { apiGroups: [""], resources: [nodes, pods], verbs: [get, list, watch] }
  - { apiGroups: [coordination.k8s.io], resources: [leases], verbs: [list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "k3s-homelab-lab:kwok" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "k3s-homelab-lab:kwok" }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:node:$node" }]
EOF

# The Node as a K3s kubelet registers it (with the node's own credentials; status is kept on
# create for nodes: pkg/registry/core/node/strategy.go PrepareForCreate).
cat >"$work/node.yaml" <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node
  labels:
    kubernetes.io/hostname: $node
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
status:
  nodeInfo:
    kubeletVersion: v1.33.6+k3s1
    kubeProxyVersion: v1.33.6+k3s1
    containerRuntimeVersion: containerd://2.1.5-k3s1
    operatingSystem: linux
    architecture: amd64
EOF
"$KUBE_BIN/kubectl" --kubeconfig "$work/kubelet.kubeconfig" create -f "$work/node.yaml" >/dev/null ||
  fail "the node could not register itself"
"$KUBE_BIN/kwok" --config "$KUBE_BIN/kwok-stages.yaml" --kubeconfig "$work/kubelet.kubeconfig" \
  --manage-single-node "$node" \
  --node-ip "$node_ip" --node-lease-duration-seconds 40 >"$work/kwok.log" 2>&1 &
pids+=($!)
kwok_pid=$!
ready() { kubectl get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'; }
for _ in $(seq 60); do
  [[ "$(ready 2>/dev/null)" == True ]] && break
  sleep 0.5
done
[[ "$(ready)" == True ]] || fail "node not Ready through kwok in 30 s"
say "node Ready (kwok): $(kubectl get node "$node" --no-headers | tr -s ' ')"

# Workloads: a Deployment whose PodDisruptionBudget allows no eviction, and a bare pod. The
# scheduler places them, kwok runs them; then a drain (the program's flags, never --force).
for _ in $(seq 60); do # the controller-manager's serviceaccount controller makes it
  kubectl get serviceaccount default >/dev/null 2>&1 && break
  sleep 0.5
done
kubectl apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: registry.invalid/web:1 }] }
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: web, namespace: default }
spec: { minAvailable: 2, selector: { matchLabels: { app: web } } }
---
apiVersion: v1
kind: Pod
metadata: { name: bare, namespace: default }
spec: { containers: [{ name: bare, image: registry.invalid/bare:1 }] }
EOF
running() { kubectl get pods -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c Running; }
for _ in $(seq 60); do
  [[ "$(running)" == 3 ]] && break
  sleep 0.5
done
[[ "$(running)" == 3 ]] || fail "3 pods not Running in 30 s: $(kubectl get pods --no-headers)
$(kubectl get events -A)"
say "pods: $(kubectl get pods -o wide --no-headers | awk '{print $1 "=" $3 "@" $7}' | tr '\n' ' ')"
drain() { kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout="$1" 2>&1; }
out="$(drain 10s)" && fail "drain with a bare pod succeeded: $out"
grep -q "cannot delete Pods that declare no controller" <<<"$out" || fail "drain said: $out"
say "drain refused: $(grep -o 'cannot delete Pods that declare no controller[^:]*: default/bare' <<<"$out" | head -n1)"
[[ "$(kubectl get node "$node" -o jsonpath='{.spec.unschedulable}')" == true ]] ||
  fail "drain did not cordon the node"
kubectl delete pod bare --wait=false >/dev/null
for _ in $(seq 40); do
  kubectl get pod bare >/dev/null 2>&1 || break
  sleep 0.5
done
started=$(date +%s)
out="$(drain 10s)" && fail "drain past a PodDisruptionBudget succeeded: $out"
grep -q "global timeout reached: 10s" <<<"$out" || fail "drain said: $out"
say "drain blocked by the PDB for $(($(date +%s) - started)) s:" \
  "$(grep -o 'Cannot evict pod as it would violate the pod.s disruption budget' <<<"$out" | head -n1);" \
  "$(grep -o 'global timeout reached: 10s' <<<"$out" | head -n1)"
kubectl uncordon "$node" >/dev/null
kubectl cordon "$node"
[[ "$(kubectl get node "$node" -o jsonpath='{.spec.unschedulable}')" == true ]] ||
  fail "cordon did not set spec.unschedulable"
say "cordoned: $(kubectl get node "$node" --no-headers | tr -s ' ')"

kwok_rss=$(awk '/VmHWM/ {print int($2/1024) " MiB"}' "/proc/$kwok_pid/status")
kill "$kwok_pid"
stopped=$(date +%s)
for _ in $(seq 120); do
  [[ "$(ready)" == Unknown ]] && break
  sleep 0.5
done
[[ "$(ready)" == Unknown ]] || fail "node-lifecycle controller did not mark the node in 60 s"
say "kwok stopped: Ready=Unknown after $(($(date +%s) - stopped)) s: $(kubectl get node "$node" \
  -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')"
say "taints: $(kubectl get node "$node" -o jsonpath='{.spec.taints[*].key}')"
for p in "etcd:${pids[0]}" "kube-apiserver:$apiserver_pid" "kube-controller-manager:$kcm_pid" \
  "kube-scheduler:$sched_pid"; do
  say "peak RSS ${p%%:*}: $(awk '/VmHWM/ {print int($2/1024) " MiB"}' "/proc/${p#*:}/status")"
done
say "peak RSS kwok: $kwok_rss"
say "ok"
