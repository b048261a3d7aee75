#!/usr/bin/python3
"""Lab stand-in for the k3s binary, version @@VERSION@@ (rendered by the lab's release server).

  k3s --version                      like the real one
  k3s server|agent [flags]           the service process (ExecStart of the unit). A server runs
                                     a REAL etcd member and the REAL kube-apiserver,
                                     kube-controller-manager and kube-scheduler as its children;
                                     every node runs kwok as its kubelet, which registers the Node
                                     with the version of the binary that started it.
  k3s kubectl ...                    the REAL kubectl with /etc/rancher/k3s/k3s.yaml
  k3s etcd-snapshot save [--name N]  a real `etcdctl snapshot save` to the k3s snapshot dir
                                     (exits 0 and writes nothing on a learner, as Snapshot() does)

etcd itself (TLS, K3s's listeners, member names, join as learner, the leader's promotion and
EtcdIsVoter loop) is in /run/k3s-homelab-lab/lib/labetcd.py, Kubernetes in labkube.py.
"""
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, "/run/k3s-homelab-lab/lib")
import lablib  # noqa: E402
import labetcd  # noqa: E402
import labkube  # noqa: E402

# K3s talks to etcd and its own supervisor directly; HTTP_PROXY from k3s.service.env is for
# containerd's image pulls (Go's ProxyFromEnvironment never proxies loopback), so the stand-in's
# own requests ignore the environment's proxies.
urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({})))

VERSION = "@@VERSION@@"
COMMIT = "@@COMMIT@@"
GOVERSION = "@@GOVERSION@@"
DATA_DIR = "/var/lib/rancher/k3s"
SNAPSHOT_DIR = f"{DATA_DIR}/server/db/snapshots"
CONFIG = "/etc/rancher/k3s/config.yaml"
# CriticalControlArgs (pkg/daemons/config/types.go) by their `cli` tag, with K3s's defaults:
# compared when a server joins (compareConfig() from Cluster.bootstrap()), never again.
CRITICAL = {"cluster-dns": "10.43.0.10", "cluster-cidr": "10.42.0.0/16",
            "cluster-domain": "cluster.local", "disable-cloud-controller": False,
            "disable-helm-controller": False, "disable-network-policy": False,
            "disable-service-lb": False, "secrets-encryption": False,
            "secrets-encryption-provider": "aescbc", "embedded-registry": False,
            "flannel-backend": "vxlan", "flannel-ipv6-masq": False,
            "flannel-ip-masq-disable-random-fully": False, "flannel-external-ip": False,
            "egress-selector-mode": "agent", "service-cidr": "10.43.0.0/16",
            "supervisor-metrics": False}
NODE_NAME = socket.gethostname()


def logline(level, msg):
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sys.stderr.write(f'time="{ts}" level={level} msg="{msg}"\n')
    sys.stderr.flush()


def me():
    return lablib.host_entry(NODE_NAME)


# --- config -------------------------------------------------------------------------------
# Short aliases of the flags the lab reads (pkg/cli/cmds/server.go and agent.go).
ALIASES = {"i": "node-ip", "d": "data-dir", "t": "token", "s": "server", "c": "config"}
LIST_FLAGS = ("disable", "tls-san", "node-label", "node-taint", "kube-apiserver-arg",
              "kubelet-arg", "node-ip", "node-external-ip")


def load_config(flags):
    """As K3s's pkg/configfilearg readConfigFile() and Parse(): config.yaml, then the
    config.yaml.d/*.yaml drop-ins in name order (a later file's key replaces, `key+:` appends),
    then the command line (ExecStart), whose flags override the files' (list flags append)."""
    import yaml
    cfg = {}
    paths = [CONFIG]
    if os.path.isdir(CONFIG + ".d"):
        paths += sorted(os.path.join(CONFIG + ".d", f) for f in os.listdir(CONFIG + ".d")
                        if f.lower().endswith((".yaml", ".yml")))
    for p in paths:
        if os.path.exists(p):
            with open(p) as f:
                for k, v in (yaml.safe_load(f) or {}).items():
                    if k.endswith("+") and k[:-1] in cfg:
                        k = k[:-1]
                        old = cfg[k] if isinstance(cfg[k], list) else [cfg[k]]
                        cfg[k] = old + (v if isinstance(v, list) else [v])
                    else:
                        cfg[k.rstrip("+")] = v
    i = 0
    while i < len(flags):
        f = flags[i].lstrip("-")
        if "=" in f:
            k, v = f.split("=", 1)
        elif i + 1 < len(flags) and not flags[i + 1].startswith("-"):
            k, v = f, flags[i + 1]
            i += 1
        else:
            k, v = f, True
        k = ALIASES.get(k, k)
        if k in LIST_FLAGS:
            prev = cfg.get(k, [])
            cfg[k] = (prev if isinstance(prev, list) else [prev]) + [v]
        else:
            cfg[k] = v
        i += 1
    return cfg


def critical_of(cfg):
    out = {k: str(cfg.get(k, d)).lower() for k, d in CRITICAL.items()}
    disable = cfg.get("disable", [])
    disable = disable if isinstance(disable, list) else [disable]
    if "servicelb" in ",".join(str(d) for d in disable).split(","):
        out["disable-service-lb"] = "true"  # server.go: Disables["servicelb"] sets DisableServiceLB
    return out


# --- etcd: the local member's JSON gateway on <loopback>:2382, K3s's client certificate ------
ETCD_ERRORS = (OSError, RuntimeError, ValueError, urllib.error.URLError)


def b64(s):
    return base64.b64encode(s.encode()).decode()


def local_cfg():
    try:
        return load_config([])
    except Exception:  # an unreadable config: K3s's defaults (IPv4 loopback)
        return {}


def etcd(path, body, timeout=8):
    return labetcd.gateway(local_cfg(), path, body, timeout)


def etcd_put(key, value):
    etcd("kv/put", {"key": b64(key), "value": b64(value)})


def healthy(cfg=None):
    try:
        lb = labetcd.loopback(cfg if cfg is not None else local_cfg())
        with urllib.request.urlopen(f"http://{lb}:2381/health", timeout=2) as r:
            return json.loads(r.read()).get("health") == "true"
    except (OSError, ValueError):
        return False


# --- the service process ----------------------------------------------------------------------
def servers_of(fx):
    return [h for h in fx["hosts"] if h["kind"] == "guest" and h["role"] == "server"]


def join_target(fx, url):
    """The fixture server a `server:` URL points at (by node IP or root-side address)."""
    hostname = urllib.parse.urlparse(str(url)).hostname
    return next((h for h in servers_of(fx) if hostname in (h["bridgeAddress"], h["address"],
                                                            h["name"])), None)


def start_etcd(cfg, fx, host, role_cfg_join):
    """ETCD.Start(): an initialized member restarts as it was; cluster-init (no join URL) starts
    a one-member cluster; a new server joining compares critical config (Cluster.bootstrap ->
    compareConfig), then joins as a learner. Returns (etcd process, member name)."""
    ip = host["bridgeAddress"]
    name = labetcd.member_name(NODE_NAME)
    initial = None
    if labetcd.initialized():
        logline("info", "Managed etcd cluster bootstrap already complete and initialized")
        logline("info", "Starting etcd for existing cluster member")
    elif not role_cfg_join:
        logline("info", "Managed etcd cluster initializing")
        logline("info", "Starting etcd for new cluster, cluster-reset=false")
        initial = {"cluster": f"{name}={labetcd.peer_url(ip)}", "state": "new"}
    else:
        logline("info", "Managed etcd cluster not yet initialized")
        target = join_target(fx, role_cfg_join)
        others = [h for h in servers_of(fx) if h["name"] != NODE_NAME]
        if target:
            others = [target] + [h for h in others if h["name"] != target["name"]]
        endpoints = [labetcd.client_url(h["bridgeAddress"]) for h in others]
        while True:
            try:
                theirs = labetcd.critical_of_target(endpoints[:1], target["name"]) if target \
                    else critical_of(cfg)
                mine = critical_of(cfg)
                diff = [k for k in CRITICAL if theirs.get(k, mine[k]) != mine[k]]
                if diff:
                    for k in diff:
                        logline("warning", f"critical configuration mismatched: {k}")
                    logline("fatal", "Error: preparing server: failed to bootstrap cluster data: "
                            "failed to validate server configuration: critical configuration "
                            "value mismatch between servers")
                    sys.exit(1)
                initial = labetcd.join(name, NODE_NAME, ip, endpoints)
                break
            except labetcd.Retry as e:
                logline("info", str(e))
                time.sleep(2)
            except RuntimeError as e:
                logline("fatal", f"etcd cluster join failed: {e}")
                sys.exit(1)
    os.makedirs(labetcd.DB_DIR, mode=0o700, exist_ok=True)
    os.chmod(labetcd.DB_DIR, 0o700)
    etcd_log = open(f"/run/k3s-homelab-lab/logs/{NODE_NAME}-etcd.log", "ab", 0)
    proc = subprocess.Popen(labetcd.etcd_argv(cfg, name, ip, initial), stdout=etcd_log,
                            stderr=etcd_log, preexec_fn=labkube.own_group)
    proc.own_group = True  # a wrapper's etcd stops with it (labkube.stop_all)
    return proc, name


def manage_learners(cfg, fx, admin, stopping):
    """The leader's manageLearners() loop, every manageTickerTime (a fixture may shorten it): it
    promotes learners and sets each etcd node's EtcdIsVoter condition on the real Node."""
    tick = fx.get("etcdManageTickSeconds", 15)

    def hold(node):  # lab fault: the leader cannot promote this learner yet (lab/README.md)
        return os.path.exists(os.path.join(lablib.SHARED, "faults", node, "etcd-learner"))

    while not stopping.wait(tick):
        try:
            nodes = labkube.etcd_nodes(admin)
            conditions = {n["name"]: n["conditions"] for n in nodes}

            def read(node):
                return next((c for c in conditions.get(node, []) if c.get("type") == "EtcdIsVoter"),
                            None)

            labetcd.manage_once(cfg, nodes, read,
                                lambda node, c: labkube.write_condition(admin, node, c), hold)
        except ETCD_ERRORS as e:
            logline("error", f"Failed to check local etcd status for learner management: {e}")


def first(value):
    return value[0] if isinstance(value, list) else value


def node_identity(cfg, host):
    """The node name and InternalIP K3s registers: --node-name (or K3S_NODE_NAME), else the
    hostname; --node-ip, else the address of the default route's interface (the lab bridge)."""
    name = str(cfg.get("node-name") or os.environ.get("K3S_NODE_NAME") or NODE_NAME)
    return name, str(first(cfg.get("node-ip")) or host["bridgeAddress"])


def read_token(cfg):
    """--token-file, when set, is read over --token (k3s pkg/cli/server/server.go `run`,
    pkg/cli/agent/agent.go `Run`: `if ... TokenFile != ""` replaces the token)."""
    token = str(cfg.get("token", "") or os.environ.get("K3S_TOKEN", ""))
    token_file = cfg.get("token-file") or os.environ.get("K3S_TOKEN_FILE")
    if token_file:
        try:
            with open(str(token_file)) as f:
                token = f.read().strip()
        except OSError as e:
            logline("fatal", f"reading token-file: {e}")
            sys.exit(1)
    return token


def wait_etcd_ready(cfg, etcd_proc, etcd_name, ip):
    """testClusterDB(): not ready until the member answers and Test() passes (a learner waits for
    the leader to promote it)."""
    last = None
    while True:
        if etcd_proc.poll() is not None:
            logline("fatal", f"etcd exited with code {etcd_proc.returncode}")
            sys.exit(1)
        try:
            why = labetcd.test(cfg, etcd_name, ip)
        except ETCD_ERRORS as e:
            why = f"waiting for etcd: {e}"
        if why is None:
            return
        if why != last and not why.startswith("waiting"):
            logline("info", f"Failed to test data store connection: {why}")
        last = why
        time.sleep(1)


def server_upstreams(fx, cfg):
    """An agent's load balancer: the server it was given first, then the other servers (K3s's
    loadbalancer learns them from the apiserver's endpoints and fails over between them)."""
    target = join_target(fx, cfg.get("server") or os.environ.get("K3S_URL"))
    servers = servers_of(fx)
    if target:
        servers = [target] + [h for h in servers if h["name"] != target["name"]]
    return lambda: [(h["bridgeAddress"], labkube.SUPERVISOR_PORT) for h in servers]


def register_kubelet(kubelet, identity, retry_until):
    """Register (or update) this node's Node as its kubelet; an agent retries until a server
    answers ("Waiting to retrieve agent configuration")."""
    name, ip = identity
    while True:
        try:
            labkube.register_node(kubelet, name, ip, VERSION, os.uname().release)
            return
        except (labkube.NotReady, OSError, ValueError) as e:
            if time.time() > retry_until:
                logline("fatal", f"registering node {name}: {e}")
                sys.exit(1)
            logline("info", f"Waiting to register node {name} with the API: {e}")
            time.sleep(2)


def node_ready(kubelet, name):
    """Whether the API has this node Ready; an API that does not answer (a server restarting, a
    5 s timeout on a loaded host) is "not yet", as K3s's agent keeps waiting, never a crash."""
    try:
        return labkube.ready_status(kubelet, name) == "True"
    except (OSError, ValueError) as e:
        logline("info", f"Waiting for node {name} to be Ready: {e}")
        return False


def run_service(role, flags):
    fx = lablib.fixture()
    host = me()
    cfg = load_config(flags)
    identity = node_identity(cfg, host)
    # --data-dir moves the server's state (etcd data, token): a server started with another data
    # dir than its first start does not find its etcd member's data.
    global SNAPSHOT_DIR
    data_dir = str(cfg.get("data-dir") or DATA_DIR)
    SNAPSHOT_DIR = f"{data_dir}/server/db/snapshots"
    labetcd.DB_DIR = f"{data_dir}/server/db/etcd"  # etcd's data-dir (dbDir) and name file
    labetcd.NAME_FILE = f"{labetcd.DB_DIR}/name"
    started = lablib.now_iso()
    children = []
    stopping = threading.Event()

    def on_term(*_):
        stopping.set()
        labkube.stop_all(list(reversed(children)))
        logline("info", "Shutting down")
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    logline("info", f"Starting k3s {role} {VERSION} ({COMMIT}) as node {identity[0]} "
            f"(InternalIP {identity[1]})")
    # Tests make a node fail to come back by planting this file (lab/README.md, "Faults").
    fault = os.path.join(lablib.SHARED, "faults", NODE_NAME, "k3s-start")
    if os.path.exists(fault):
        logline("fatal", f"lab fault: {open(fault).read().strip() or 'k3s does not start'}")
        sys.exit(1)
    token = read_token(cfg)
    if token and token.split(":")[-1] != fx["k3s"]["token"]:
        logline("fatal", "starting kubernetes: preparing server: bootstrap data already found "
                "and encrypted with different token")
        sys.exit(1)
    grace = fx.get("nodeMonitorGracePeriodSeconds", 40)
    restartable = {}  # controller-manager and scheduler: see lab/README.md ("k3s")
    if role == "server":
        etcd_proc, etcd_name = start_etcd(cfg, fx, host, cfg.get("server") or
                                          os.environ.get("K3S_URL"))
        children.append(etcd_proc)
        wait_etcd_ready(cfg, etcd_proc, etcd_name, host["bridgeAddress"])
        # What this server runs with, for servers that join it later (compareConfig).
        etcd_put(labetcd.CRITICAL_PREFIX + NODE_NAME, json.dumps(critical_of(cfg)))
        sans = cfg.get("tls-san", [])
        ips = list(dict.fromkeys([identity[1], host["bridgeAddress"], host["address"]]))
        try:
            procs, admin = labkube.start_control_plane(
                identity[0], data_dir, ips, sans if isinstance(sans, list) else [sans],
                labetcd.loopback(cfg), grace)
        except (labkube.NotReady, OSError, RuntimeError) as e:
            logline("fatal", f"starting kubernetes: {e}")
            labkube.stop_all(children)
            sys.exit(1)
        children.extend(procs)
        restartable = {p.pid: p for p in procs[1:]}
        labkube.proxy("0.0.0.0", labkube.SUPERVISOR_PORT,
                      lambda: [("127.0.0.1", labkube.API_PORT)])
        server_url = f"https://127.0.0.1:{labkube.SUPERVISOR_PORT}"
        retry_until = time.time() + 60
    else:
        if not (cfg.get("server") or os.environ.get("K3S_URL")):
            logline("fatal", "--server is required")
            sys.exit(1)
        labkube.proxy("127.0.0.1", labkube.AGENT_LB_PORT, server_upstreams(fx, cfg))
        server_url = f"https://127.0.0.1:{labkube.AGENT_LB_PORT}"
        retry_until = float("inf")  # an agent waits for its servers for ever, as K3s does
    kubelet = labkube.api_from(labkube.ensure_kubelet_tls(data_dir, identity[0], server_url))
    register_kubelet(kubelet, identity, retry_until)
    if role == "server":
        labkube.label_server(admin, identity[0], {
            labetcd.NODE_NAME_ANNOTATION: etcd_name,
            labetcd.NODE_ADDRESS_ANNOTATION: host["bridgeAddress"]})
        threading.Thread(target=manage_learners, args=(cfg, fx, admin, stopping),
                         daemon=True).start()
    try:
        labkube.release_lease(kubelet, identity[0])
    except (OSError, ValueError) as e:
        logline("warning", f"could not release the node's lease: {e}")
    kwok = labkube.start_kwok(identity[0], identity[1], f"{data_dir}/agent/kubelet.kubeconfig",
                              grace)
    children.append(kwok)
    while not node_ready(kubelet, identity[0]):
        if kwok.poll() is not None:
            logline("fatal", f"kubelet (kwok) exited with code {kwok.returncode}")
            labkube.stop_all(children)
            sys.exit(1)
        time.sleep(0.5)
    try:
        labkube.resync_pods(kubelet, identity[0])
    except (OSError, ValueError) as e:
        logline("warning", f"could not report the pods' status again: {e}")
    lablib.ctl(NODE_NAME, {"op": "notify", "unit": os.environ.get("NOTIFY_UNIT", "k3s"),
                           "pid": os.getpid(), "info": {"version": VERSION, "startedAt": started}})
    logline("info", f"k3s {role} is up and running")
    while True:
        time.sleep(1)
        for p in list(children):
            if p.poll() is None:
                continue
            what = os.path.basename(p.args[0])
            if p.pid in restartable:
                # K3s exits when its controller-manager loses leader election and systemd's
                # Restart=always starts it again; the lab restarts only that component.
                logline("error", f"{what} exited with code {p.returncode}; restarting it")
                fresh = labkube.spawn(identity[0], what, p.args)
                children[children.index(p)] = fresh
                del restartable[p.pid]
                restartable[fresh.pid] = fresh
                continue
            logline("fatal", f"{what} exited with code {p.returncode}")
            labkube.stop_all(children)
            sys.exit(1)


# --- kubectl ------------------------------------------------------------------------------------
MUTATING_VERBS = ("cordon", "uncordon", "drain", "annotate", "label", "taint", "apply", "create",
                  "delete", "patch", "replace", "scale", "edit", "set", "rollout")


def kubectl(args):
    """`k3s kubectl`: the real kubectl (pkg/kubectl/main.go: with KUBECONFIG unset and no
    --kubeconfig, /etc/rancher/k3s/k3s.yaml when it exists; an agent has none, so kubectl falls
    back to localhost:8080)."""
    env = dict(os.environ)
    given = any(a == "--kubeconfig" or a.startswith("--kubeconfig=") for a in args)
    if not env.get("KUBECONFIG") and not given and os.path.exists(labkube.K3S_YAML):
        env["KUBECONFIG"] = labkube.K3S_YAML
    return subprocess.run([f"{labkube.BIN}/kubectl"] + args, env=env).returncode


# --- etcd-snapshot ------------------------------------------------------------------------------
def delete_snapshots(names):
    """`k3s etcd-snapshot delete NAME...` (k3s pkg/cli/etcdsnapshot `delete`, pkg/etcd/snapshot.go
    `DeleteSnapshots`): removes each named local snapshot file; a name that is not there is only
    logged."""
    if not names:
        lablib.die("etcd-snapshot delete: no snapshots given for removal")
    removed = []
    for n in names:
        path = os.path.join(SNAPSHOT_DIR, os.path.basename(n))
        if os.path.isfile(path):
            os.remove(path)
            logline("info", f"Removing local snapshot {path}")
            removed.append(n)
        else:
            logline("warning", f"Snapshot {n} not found locally")
    return {"deleted": removed}


def etcd_snapshot(args):
    if not args or args[0] not in ("save", "ls", "list", "l", "delete", "rm"):
        lablib.die("lab k3s stand-in: only 'etcd-snapshot save', 'ls' and 'delete' are supported")
    if args[0] in ("delete", "rm"):
        return delete_snapshots([a for a in args[1:] if not a.startswith("-")])
    name, snap_dir, i = "on-demand", SNAPSHOT_DIR, 1
    while i < len(args):
        a = args[i]
        k, _, v = a.partition("=")
        if not v and i + 1 < len(args):
            v = args[i + 1]
            i += 1
        if k == "--name":
            name = v
        elif k in ("--dir", "--etcd-snapshot-dir"):
            snap_dir = v
        i += 1
    if args[0] != "save":
        for f in sorted(os.listdir(snap_dir)) if os.path.isdir(snap_dir) else []:
            p = os.path.join(snap_dir, f)
            print(f"{f}\tfile://{p}\t{os.path.getsize(p)}\t"
                  f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(os.path.getmtime(p)))}")
        return None
    # The server's supervisor answers /db/snapshot while k3s runs, also while its member is a
    # learner waiting for promotion (the unit is still activating then).
    unit = lablib.ctl(NODE_NAME, {"op": "unit", "unit": "k3s", "action": "status"}, timeout=10)
    if me()["role"] != "server" or unit.get("state") not in ("active", "activating"):
        logline("fatal", 'see server log for details: Post "https://127.0.0.1:6443/db/snapshot": '
                "dial tcp 127.0.0.1:6443: connect: connection refused")
        sys.exit(1)
    cfg = local_cfg()
    try:
        status = labetcd.local_status(cfg)
    except ETCD_ERRORS as e:
        logline("fatal", f"failed to check etcd status for snapshot: {e}")
        sys.exit(1)
    if status.get("isLearner"):  # Snapshot(): returns nil, nil on a learner, writing nothing
        logline("warning", "Unable to take snapshot: not supported for learner")
        return {"learner": True}
    if unit.get("state") != "active" or not healthy(cfg):
        logline("fatal", "failed to save snapshot: etcd member is not healthy")
        sys.exit(1)
    os.makedirs(snap_dir, mode=0o700, exist_ok=True)
    snap = f"{name}-{NODE_NAME}-{int(time.time())}"
    path = os.path.join(snap_dir, snap)
    logline("info", f"Saving etcd snapshot to {path}")
    rc, _, err = labetcd.etcdctl(["snapshot", "save", path],
                                 [f"https://{labetcd.loopback(cfg)}:2379"], timeout=60)
    if rc != 0:
        logline("fatal", f"failed to save snapshot: {err}")
        sys.exit(1)
    logline("info", f"Snapshot {snap} saved.")
    return {"name": snap, "path": path, "size": os.path.getsize(path)}


def main(argv):
    prog = os.path.basename(argv[0])
    args = argv[1:]
    if prog == "kubectl":
        args = ["kubectl"] + args
    elif prog in ("crictl", "ctr"):
        lablib.die(f"lab k3s stand-in: {prog} is not available in the lab")
    if not args or args[0] in ("--version", "-v", "version"):
        print(f"k3s version {VERSION} ({COMMIT})\ngo version {GOVERSION}")
        lablib.event("k3s", "version", False, version=VERSION)
        return 0
    cmd = args[0]
    if cmd in ("server", "agent"):
        return run_service(cmd, args[1:])
    if cmd == "kubectl":
        verb = next((a for a in args[1:] if not a.startswith("-")), "")
        rc = kubectl(args[1:])
        lablib.event("k3s", "kubectl", verb in MUTATING_VERBS, args=args[1:], exitCode=rc)
        return rc
    if cmd == "etcd-snapshot":
        mutating = len(args) > 1 and args[1] in ("save", "delete", "rm")
        try:
            details = etcd_snapshot(args[1:]) or {}
        except SystemExit as e:
            lablib.event("k3s", "etcd-snapshot", mutating, args=args[1:], exitCode=e.code)
            raise
        lablib.event("k3s", "etcd-snapshot", mutating, args=args[1:], exitCode=0, **details)
        return 0
    lablib.die(f"lab k3s stand-in: '{cmd}' is not supported (version, server, agent, kubectl, "
               "etcd-snapshot)")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
