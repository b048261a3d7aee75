"""Kubernetes as K3s runs it, for the lab's k3s stand-in (python3 stdlib and openssl; lab/README.md,
"Conformance", cites each behaviour's upstream source).

The processes are the real ones, built by scripts/kube.sh: kube-apiserver, kube-controller-manager
and kube-scheduler on every server with the args of k3s-io/k3s pkg/daemons/control/server.go
(`apiServer`, `controllerManager`, `scheduler`), certificates named as pkg/daemons/control/deps/
deps.go makes them (`genClientCerts`, `genServerCerts`, `genRequestHeaderCerts`,
`genServiceAccount`), kubeconfigs in server/cred/ pointing at the apiserver's own port 6444
(`APIServerPort`), /etc/rancher/k3s/k3s.yaml pointing at the supervisor's 6443 (pkg/server/server.go
`writeKubeConfig`, mode 0600). The kubelet is kwok (`--manage-single-node`): it keeps its Node's
lease and status and runs the pods bound to it, with the kubelet's own identity
(system:node:<name>). A server's kubelet talks to its own supervisor (pkg/cli/server/server.go
`run`: DisableLoadBalancer on servers); an agent's through its load balancer on 127.0.0.1:6444
(pkg/agent/loadbalancer, `lb-server-port`), which fails over between the servers.
"""
import base64
import ctypes
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import lablib

BIN = os.path.join(lablib.SHARED, "bin", "kube")
CA_DIR = os.path.join(lablib.SHARED, "kube-ca")
K3S_YAML = "/etc/rancher/k3s/k3s.yaml"
SUPERVISOR_PORT = 6443  # HTTPSPort
API_PORT = 6444  # APIServerPort (HTTPSPort + 1), the apiserver's own port on loopback
AGENT_LB_PORT = 6444  # an agent's lb-server-port
CAS = ("client-ca", "server-ca", "request-header-ca")
KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
ETCD_ROLE_LABEL = "node-role.kubernetes.io/etcd"
SERVER_LABELS = {"node-role.kubernetes.io/control-plane": "true", ETCD_ROLE_LABEL: "true",
                 "node-role.kubernetes.io/master": "true"}
CONTAINERD = "containerd://2.1.5-k3s1"  # what K3s v1.33 reports as its runtime


class NotReady(Exception):
    """A control-plane process did not come up."""


# --- processes ------------------------------------------------------------------------------
def die_with_parent():
    # PR_SET_PDEATHSIG: a child dies with the k3s process, as K3s's in-process components do.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def spawn(node, name, argv):
    log = open(os.path.join(lablib.SHARED, "logs", f"{node}-{name}.log"), "ab", 0)
    return subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            preexec_fn=die_with_parent)


def own_group():
    """preexec for a child that may be a wrapper (strace in front of etcd): it leads its own
    process group, so a stop reaches what the wrapper started too, and it dies with its parent."""
    os.setpgid(0, 0)
    die_with_parent()


def group_members(pgid):
    """Live (not zombie) processes of process group `pgid`, from /proc."""
    live = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            live.append(int(entry))
    return live


def _signal(p, sig):
    try:
        if getattr(p, "own_group", False):
            os.killpg(p.pid, sig)
        elif p.poll() is None:
            p.send_signal(sig)
    except ProcessLookupError:
        pass


def stop_all(procs, grace=10):
    """SIGTERM each, then SIGKILL what is left after `grace` seconds. A child started with
    own_group() counts as stopped only once every process of its group is gone: K3s runs etcd in
    its own process, so when a K3s stops, its member (and its ports, its data dir) are free."""
    for p in procs:
        _signal(p, signal.SIGTERM)
    for p in procs:
        deadline = time.time() + grace
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            _signal(p, signal.SIGKILL)
            p.wait()
        killed = False
        while getattr(p, "own_group", False) and group_members(p.pid):
            if time.time() > deadline:
                if killed:
                    break  # SIGKILLed 5 s ago and still there: nothing more to do
                _signal(p, signal.SIGKILL)
                killed, deadline = True, time.time() + 5
            time.sleep(0.1)


# --- certificates ---------------------------------------------------------------------------
def _openssl(args, stdin=None):
    r = subprocess.run(["openssl"] + args, input=stdin, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {args[0]}: {r.stderr.decode().strip()}")
    return r.stdout


def issue(ca, out, subject, usage, sans=()):
    """A leaf pair `out`.crt/.key signed by the CA pair `ca`, ECDSA P-256 as certutil makes them."""
    ext = [("basicConstraints", "critical,CA:FALSE"),
           ("keyUsage", "critical,digitalSignature,keyEncipherment"), ("extendedKeyUsage", usage)]
    if sans:
        ext.append(("subjectAltName", ",".join(sans)))
    ext_file = out + ".ext"
    with open(ext_file, "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in ext))
    csr = _openssl(["req", "-new", *KEY, "-keyout", out + ".key", "-subj", subject])
    cert = _openssl(["x509", "-req", "-CA", ca + ".crt", "-CAkey", ca + ".key", "-set_serial",
                     str(int.from_bytes(os.urandom(8), "big")), "-days", "365", "-extfile",
                     ext_file], csr)
    os.remove(ext_file)
    with open(out + ".crt", "wb") as f:
        f.write(cert)
    os.chmod(out + ".key", 0o600)


def kubeconfig(path, server, ca, cert, key, embed=False, mode=0o600):
    def field(name, p):
        if not embed:
            return f"{name}: {p}"
        with open(p, "rb") as f:
            return f"{name}-data: {base64.b64encode(f.read()).decode()}"
    text = (f"apiVersion: v1\nclusters:\n- cluster:\n    {field('certificate-authority', ca)}\n"
            f"    server: {server}\n  name: default\ncontexts:\n- context:\n    cluster: default\n"
            "    user: default\n  name: default\ncurrent-context: default\nkind: Config\n"
            f"preferences: {{}}\nusers:\n- name: default\n  user:\n"
            f"    {field('client-certificate', cert)}\n    {field('client-key', key)}\n")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def server_sans(node, ips, tls_sans):
    """The apiserver's serving certificate names (K3s: config.SANs plus the service's first IP)."""
    names = ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local", "localhost", node]
    names += [str(s) for s in tls_sans]
    ip_like = [n for n in names if n.replace(".", "").isdigit() or ":" in n]
    dns = [n for n in names if n not in ip_like]
    addrs = ["127.0.0.1", "::1", "10.43.0.1"] + list(ips) + ip_like
    return [f"DNS:{n}" for n in dict.fromkeys(dns)] + [f"IP:{a}" for a in dict.fromkeys(addrs)]


def ensure_server_tls(data_dir, node, ips, tls_sans):
    """The server's tls/ and cred/ dirs. The CAs come from the cluster (bootstrap data: the lab
    made them at `lab up`); client pairs are made once, the serving pair at every start (K3s
    renews it when the SANs change)."""
    tls, cred = f"{data_dir}/server/tls", f"{data_dir}/server/cred"
    os.makedirs(tls, mode=0o700, exist_ok=True)
    os.makedirs(cred, mode=0o700, exist_ok=True)
    for ca in CAS:
        for ext in (".crt", ".key"):
            dst = f"{tls}/{ca}{ext}"
            if not os.path.exists(dst):
                with open(f"{CA_DIR}/{ca}{ext}", "rb") as src, open(dst, "wb") as out:
                    out.write(src.read())
                os.chmod(dst, 0o600 if ext == ".key" else 0o644)
    for f in ("service.key", "service.current.key"):
        dst = f"{tls}/{f}"
        if not os.path.exists(dst):
            with open(f"{CA_DIR}/service.key", "rb") as src, open(dst, "wb") as out:
                out.write(src.read())
            os.chmod(dst, 0o600)
    clients = [("client-admin", "/O=system:masters/CN=system:admin", "admin"),
               ("client-controller", "/CN=system:kube-controller-manager", "controller"),
               ("client-scheduler", "/CN=system:kube-scheduler", "scheduler"),
               ("client-kube-apiserver", "/O=system:masters/CN=system:apiserver", None)]
    for name, subject, kc in clients:
        if not os.path.exists(f"{tls}/{name}.crt"):
            issue(f"{tls}/client-ca", f"{tls}/{name}", subject, "clientAuth")
        if kc:
            kubeconfig(f"{cred}/{kc}.kubeconfig", f"https://127.0.0.1:{API_PORT}",
                       f"{tls}/server-ca.crt", f"{tls}/{name}.crt", f"{tls}/{name}.key")
    if not os.path.exists(f"{tls}/client-auth-proxy.crt"):
        issue(f"{tls}/request-header-ca", f"{tls}/client-auth-proxy", "/CN=system:auth-proxy",
              "clientAuth")
    issue(f"{tls}/server-ca", f"{tls}/serving-kube-apiserver", "/CN=kube-apiserver",
          "serverAuth", server_sans(node, ips, tls_sans))
    kubeconfig(K3S_YAML, f"https://127.0.0.1:{SUPERVISOR_PORT}", f"{tls}/server-ca.crt",
               f"{tls}/client-admin.crt", f"{tls}/client-admin.key", embed=True)
    return tls, cred


def ensure_kubelet_tls(data_dir, node, server_url):
    """agent/: the kubelet's client pair (K3s's agent asks its server to sign one at every start,
    /v1-k3s/client-kubelet.crt; the lab signs it from the cluster's client CA) and kubeconfig."""
    agent = f"{data_dir}/agent"
    os.makedirs(agent, mode=0o700, exist_ok=True)
    with open(f"{CA_DIR}/server-ca.crt", "rb") as src, open(f"{agent}/server-ca.crt", "wb") as out:
        out.write(src.read())
    issue(f"{CA_DIR}/client-ca", f"{agent}/client-kubelet",
          f"/O=system:nodes/CN=system:node:{node}", "clientAuth")
    path = f"{agent}/kubelet.kubeconfig"
    kubeconfig(path, server_url, f"{agent}/server-ca.crt", f"{agent}/client-kubelet.crt",
               f"{agent}/client-kubelet.key")
    return path


# --- a small API client ---------------------------------------------------------------------
class Api:
    """Requests with one kubeconfig's files (this module's own kubeconfigs, file paths only)."""

    def __init__(self, server, ca, cert, key):
        self.server = server
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.load_cert_chain(cert, key)

    def call(self, method, path, body=None, ctype="application/json", timeout=5):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": ctype, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ctx) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode())
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")


def api_from(kubeconfig_path):
    fields = {}
    with open(kubeconfig_path) as f:
        for line in f:
            k, _, v = line.strip().partition(": ")
            if k in ("server", "certificate-authority", "client-certificate", "client-key"):
                fields[k] = v
    return Api(fields["server"], fields["certificate-authority"], fields["client-certificate"],
               fields["client-key"])


def wait_ready(api, procs, seconds=90):
    """Until /readyz answers ok (the apiserver has its storage), or a process exits."""
    deadline = time.time() + seconds
    last = ""
    while time.time() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise NotReady(f"{os.path.basename(p.args[0])} exited with code {p.returncode}")
        try:
            status, body = api.call("GET", "/readyz", timeout=3)
            if status == 200:
                return
            last = f"HTTP {status}"
        except (OSError, ValueError) as e:
            last = str(e)
        time.sleep(0.3)
    raise NotReady(f"kube-apiserver not ready in {seconds} s ({last})")


# --- the control plane ----------------------------------------------------------------------
def apiserver_argv(tls, etcd_loopback, advertise):
    e = f"{tls}/etcd"
    return [f"{BIN}/kube-apiserver",
            "--storage-backend", "etcd3", "--etcd-servers", f"https://{etcd_loopback}:2379",
            "--etcd-cafile", f"{e}/server-ca.crt", "--etcd-certfile", f"{e}/client.crt",
            "--etcd-keyfile", f"{e}/client.key", "--cert-dir", f"{tls}/temporary-certs",
            "--allow-privileged=true", "--enable-bootstrap-token-auth=true",
            "--authorization-mode", "Node,RBAC", "--anonymous-auth=false",
            "--service-account-signing-key-file", f"{tls}/service.current.key",
            "--service-account-key-file", f"{tls}/service.key",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--api-audiences", "https://kubernetes.default.svc.cluster.local,k3s",
            "--service-cluster-ip-range", "10.43.0.0/16",
            "--service-node-port-range", "30000-32767",
            "--advertise-address", advertise, "--secure-port", str(API_PORT),
            "--bind-address", "127.0.0.1",
            "--tls-cert-file", f"{tls}/serving-kube-apiserver.crt",
            "--tls-private-key-file", f"{tls}/serving-kube-apiserver.key",
            "--kubelet-certificate-authority", f"{tls}/server-ca.crt",
            "--kubelet-client-certificate", f"{tls}/client-kube-apiserver.crt",
            "--kubelet-client-key", f"{tls}/client-kube-apiserver.key",
            "--kubelet-preferred-address-types", "InternalIP,ExternalIP,Hostname",
            "--requestheader-client-ca-file", f"{tls}/request-header-ca.crt",
            "--requestheader-allowed-names", "system:auth-proxy",
            "--proxy-client-cert-file", f"{tls}/client-auth-proxy.crt",
            "--proxy-client-key-file", f"{tls}/client-auth-proxy.key",
            "--requestheader-extra-headers-prefix", "X-Remote-Extra-",
            "--requestheader-group-headers", "X-Remote-Group",
            "--requestheader-username-headers", "X-Remote-User",
            "--client-ca-file", f"{tls}/client-ca.crt",
            "--enable-admission-plugins", "NodeRestriction", "--profiling=false"]


def controller_manager_argv(tls, cred, grace_seconds):
    kc = f"{cred}/controller.kubeconfig"
    signing = []
    for kind, ca in (("kube-apiserver-client", "client-ca"), ("kubelet-client", "client-ca"),
                     ("kubelet-serving", "server-ca"), ("legacy-unknown", "server-ca")):
        signing += [f"--cluster-signing-{kind}-cert-file", f"{tls}/{ca}.crt",
                    f"--cluster-signing-{kind}-key-file", f"{tls}/{ca}.key"]
    return [f"{BIN}/kube-controller-manager", "--controllers", "*,tokencleaner",
            "--kubeconfig", kc, "--authorization-kubeconfig", kc,
            "--authentication-kubeconfig", kc,
            "--service-account-private-key-file", f"{tls}/service.current.key",
            "--allocate-node-cidrs=true", "--service-cluster-ip-range", "10.43.0.0/16",
            "--cluster-cidr", "10.42.0.0/16", "--root-ca-file", f"{tls}/server-ca.crt",
            "--profiling=false", "--bind-address", "127.0.0.1", "--secure-port", "10257",
            "--use-service-account-credentials=true", *signing, "--leader-elect=true",
            "--node-monitor-grace-period", f"{grace_seconds}s"]


def scheduler_argv(cred):
    kc = f"{cred}/scheduler.kubeconfig"
    return [f"{BIN}/kube-scheduler", "--kubeconfig", kc, "--authorization-kubeconfig", kc,
            "--authentication-kubeconfig", kc, "--bind-address", "127.0.0.1",
            "--secure-port", "10259", "--profiling=false", "--leader-elect=true"]


# kwok lists every node, pod and lease at start (its informers), which a kubelet does not: the
# Node authorizer has no opinion there and RBAC needs this role (scripts/kube-smoke.sh).
KWOK_RBAC = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
     "metadata": {"name": "k3s-homelab-lab:kwok"},
     "rules": [{"apiGroups": [""], "resources": ["nodes", "pods"],
                "verbs": ["get", "list", "watch"]},
               {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                "verbs": ["list", "watch"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
     "metadata": {"name": "k3s-homelab-lab:kwok"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                 "name": "k3s-homelab-lab:kwok"},
     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                   "name": "system:nodes"}]}]}


def ensure_kwok_rbac(admin):
    for obj in KWOK_RBAC["items"]:
        kind = "clusterroles" if obj["kind"] == "ClusterRole" else "clusterrolebindings"
        path = f"/apis/rbac.authorization.k8s.io/v1/{kind}"
        status, body = admin.call("POST", path, obj)
        if status not in (201, 409):
            raise NotReady(f"cannot create {obj['kind']} for the lab's kubelets: {body}")


def start_control_plane(node, data_dir, ips, tls_sans, etcd_loopback, grace_seconds):
    """apiserver, then (once it is ready) controller-manager and scheduler. Returns the
    processes and an admin client on the apiserver's own port."""
    tls, cred = ensure_server_tls(data_dir, node, ips, tls_sans)
    procs = [spawn(node, "kube-apiserver", apiserver_argv(tls, etcd_loopback, ips[0]))]
    admin = api_from(f"{cred}/admin.kubeconfig")
    try:
        wait_ready(admin, procs)
        ensure_kwok_rbac(admin)
    except (NotReady, OSError):
        stop_all(procs)
        raise
    procs.append(spawn(node, "kube-controller-manager",
                       controller_manager_argv(tls, cred, grace_seconds)))
    procs.append(spawn(node, "kube-scheduler", scheduler_argv(cred)))
    return procs, admin


# --- the kubelet: registration and kwok -----------------------------------------------------
def register_node(kubelet, node, ip, version, kernel):
    """As the kubelet registers (pkg/kubelet/kubelet_node_status.go registerWithAPIServer): create
    the Node with its status, or, when it exists, update the status it owns (nodeInfo carries the
    version of the binary now running, addresses the node IP)."""
    status = {"addresses": [{"type": "InternalIP", "address": ip},
                            {"type": "Hostname", "address": node}],
              "nodeInfo": {"kubeletVersion": version, "kubeProxyVersion": version,
                           "containerRuntimeVersion": CONTAINERD, "kernelVersion": kernel,
                           "osImage": "Debian GNU/Linux 12 (bookworm)",
                           "operatingSystem": "linux", "architecture": "amd64"}}
    body = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node, "labels": {
                "kubernetes.io/hostname": node, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "k3s",
                "beta.kubernetes.io/instance-type": "k3s"}},
            "status": status}
    code, out = kubelet.call("POST", "/api/v1/nodes", body)
    if code == 409:
        code, out = kubelet.call("PATCH", f"/api/v1/nodes/{node}/status", {"status": status},
                                 "application/strategic-merge-patch+json")
    if code not in (200, 201):
        raise NotReady(f"the kubelet could not register node {node}: HTTP {code} {out}")


def label_server(admin, node, annotations):
    """What a K3s server with etcd sets on its own Node (pkg/etcd/metadata_controller.go
    `handleSelf`): the etcd member's name and address annotations and the etcd, master and
    control-plane role labels."""
    patch = {"metadata": {"labels": SERVER_LABELS, "annotations": annotations}}
    code, out = admin.call("PATCH", f"/api/v1/nodes/{node}", patch,
                           "application/strategic-merge-patch+json")
    if code != 200:
        raise NotReady(f"cannot label node {node}: HTTP {code} {out}")


def release_lease(kubelet, node):
    """A restarted kubelet renews its node's Lease at once (it always holds it as the node). A new
    kwok process holds it under a new identity and first waits for the old holder's lease to
    expire, so the node-lifecycle controller would see the node Unknown after a quick restart:
    the stand-in removes the old kwok's lease before the new one starts."""
    kubelet.call("DELETE", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}")


def start_kwok(node, ip, kubelet_kubeconfig, lease_seconds):
    return spawn(node, "kwok", [f"{BIN}/kwok", "--config", f"{BIN}/kwok-stages.yaml",
                                "--kubeconfig", kubelet_kubeconfig, "--manage-single-node", node,
                                "--node-ip", ip,
                                "--node-lease-duration-seconds", str(lease_seconds)])


def ready_status(kubelet, node):
    code, out = kubelet.call("GET", f"/api/v1/nodes/{node}")
    if code != 200:
        return None
    return next((c.get("status") for c in out.get("status", {}).get("conditions", [])
                 if c.get("type") == "Ready"), None)


def resync_pods(kubelet, node):
    """After a restart the kubelet's status manager reports its pods' status again
    (pkg/kubelet/status/status_manager.go `syncPod`): their containers still run, so the pods the
    node-lifecycle controller marked not Ready while the node was Unknown (pkg/controller/util/node
    `MarkPodsNotReady`) are Ready again. kwok's stages only make Pending pods Ready."""
    code, out = kubelet.call("GET", f"/api/v1/pods?fieldSelector=spec.nodeName%3D{node}")
    if code != 200:
        return
    now = lablib.now_iso().split(".")[0] + "Z"
    for pod in out.get("items", []):
        st = pod.get("status", {})
        ready = next((c.get("status") for c in st.get("conditions", []) if c.get("type") == "Ready"),
                     None)
        if st.get("phase") != "Running" or ready == "True" or pod["metadata"].get("deletionTimestamp"):
            continue
        conditions = [{"type": t, "status": "True", "lastTransitionTime": now}
                      for t in ("Ready", "ContainersReady")]
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        kubelet.call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status",
                     {"status": {"conditions": conditions}},
                     "application/strategic-merge-patch+json")


# --- conditions K3s sets (EtcdIsVoter) ------------------------------------------------------
def etcd_nodes(admin):
    """The etcd nodes as manageLearners() lists them (label node-role.kubernetes.io/etcd=true),
    with the member name K3s annotated on each."""
    code, out = admin.call("GET", f"/api/v1/nodes?labelSelector={ETCD_ROLE_LABEL}%3Dtrue")
    if code != 200:
        raise RuntimeError(f"cannot list etcd nodes: HTTP {code}")
    return [{"name": n["metadata"]["name"],
             "etcdName": n["metadata"].get("annotations", {}).get("etcd.k3s.cattle.io/node-name"),
             "conditions": n.get("status", {}).get("conditions", [])}
            for n in out.get("items", [])]


def write_condition(admin, node, condition):
    """The Node's status condition, merged by type (a strategic merge patch, as K3s's
    setEtcdStatusCondition updates the status)."""
    code, out = admin.call("PATCH", f"/api/v1/nodes/{node}/status",
                           {"status": {"conditions": [condition]}},
                           "application/strategic-merge-patch+json")
    if code != 200:
        raise RuntimeError(f"cannot set {condition['type']} on {node}: HTTP {code}")


# --- TCP proxies: the supervisor's port and an agent's load balancer ------------------------
def _pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _serve(conn, upstreams):
    for host, port in upstreams():
        try:
            up = socket.create_connection((host, port), timeout=3)
            up.settimeout(None)
            break
        except OSError:
            continue
    else:
        conn.close()
        return
    threading.Thread(target=_pipe, args=(conn, up), daemon=True).start()
    _pipe(up, conn)
    conn.close()
    up.close()


def proxy(listen_host, listen_port, upstreams):
    """Listen on listen_host:listen_port and pass each connection to the first of upstreams()
    that accepts one (a server that is down is skipped, as the load balancer's health checks
    skip it)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((listen_host, listen_port))
    srv.listen(64)

    def loop():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=_serve, args=(conn, upstreams), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return srv
