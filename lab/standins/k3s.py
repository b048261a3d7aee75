#!/usr/bin/python3
"""Lab stand-in for the k3s binary, version @@VERSION@@ (rendered by the lab's release server).

  k3s --version                      like the real one
  k3s server|agent [flags]           the service process (ExecStart of the unit). A server runs
                                     a REAL etcd member as its child; both heartbeat a Node
                                     record into etcd, so the version a node reports is the
                                     version of the binary that was running when it started.
  k3s kubectl get node(s) ...        answers from etcd on a server whose k3s is active
  k3s kubectl cordon|uncordon|drain|annotate node ...   the node's spec.unschedulable and
                                     annotations, kept in etcd; a drain blocks (a pod's disruption
                                     budget) while faults/<node>/drain exists
  k3s etcd-snapshot save [--name N]  a real `etcdctl snapshot save` to the k3s snapshot dir
                                     (exits 0 and writes nothing on a learner, as Snapshot() does)

etcd itself (TLS, K3s's listeners, member names, join as learner, the leader's promotion and
EtcdIsVoter loop) is in /run/k3s-homelab-lab/lib/labetcd.py.
"""
import base64
import datetime
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
NODE_PREFIX = "/registry/minions/"
NODESPEC_PREFIX = "/registry/k3s-lab/nodespec/"
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
REFUSED = "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"


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


def etcd_range(prefix):
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    out = etcd("kv/range", {"key": b64(prefix), "range_end": b64(end)})
    return [json.loads(base64.b64decode(kv["value"])) for kv in out.get("kvs", [])]


def etcd_get(key):
    out = etcd("kv/range", {"key": b64(key)})
    kvs = out.get("kvs", [])
    return json.loads(base64.b64decode(kvs[0]["value"])) if kvs else None


def healthy(cfg=None):
    try:
        lb = labetcd.loopback(cfg if cfg is not None else local_cfg())
        with urllib.request.urlopen(f"http://{lb}:2381/health", timeout=2) as r:
            return json.loads(r.read()).get("health") == "true"
    except (OSError, ValueError):
        return False


# --- the service process ----------------------------------------------------------------------
def node_record(host, fx, ready, started, etcd_name=None, identity=None):
    name, address = identity or (NODE_NAME, host["bridgeAddress"])
    rec = {"name": name, "role": host["role"], "kubeletVersion": VERSION,
           "address": address, "ready": ready, "startedAt": started,
           "created": fx.get("createdAt", started), "heartbeat": lablib.now_iso()}
    if etcd_name:  # registerMetadataHandlers: the node's etcd member name and address
        rec["etcdName"] = etcd_name
    return rec


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
                            stderr=etcd_log)
    return proc, name


def manage_learners(cfg, fx, stopping):
    """The leader's manageLearners() loop, every manageTickerTime (a fixture may shorten it)."""
    tick = fx.get("etcdManageTickSeconds", 15)

    def hold(node):  # lab fault: the leader cannot promote this learner yet (lab/README.md)
        return os.path.exists(os.path.join(lablib.SHARED, "faults", node, "etcd-learner"))

    while not stopping.wait(tick):
        try:
            nodes = [r for r in etcd_range(NODE_PREFIX) if r.get("role") == "server"]
            labetcd.manage_once(cfg, nodes, lambda k, v: etcd_put(k, json.dumps(v)), etcd_get,
                                hold)
        except ETCD_ERRORS as e:
            logline("error", f"Failed to check local etcd status for learner management: {e}")


def first(value):
    return value[0] if isinstance(value, list) else value


def node_identity(cfg, host):
    """The node name and InternalIP K3s registers: --node-name (or K3S_NODE_NAME), else the
    hostname; --node-ip, else the address of the default route's interface (the lab bridge)."""
    name = str(cfg.get("node-name") or os.environ.get("K3S_NODE_NAME") or NODE_NAME)
    return name, str(first(cfg.get("node-ip")) or host["bridgeAddress"])


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
    etcd_proc = None
    stopping = threading.Event()

    def stop_etcd():
        if etcd_proc and etcd_proc.poll() is None:
            etcd_proc.terminate()
            try:
                etcd_proc.wait(20)
            except subprocess.TimeoutExpired:
                etcd_proc.kill()

    def on_term(*_):
        stopping.set()
        stop_etcd()
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
    token = str(cfg.get("token", "") or os.environ.get("K3S_TOKEN", ""))
    if not token and cfg.get("token-file"):
        try:
            with open(str(cfg["token-file"])) as f:
                token = f.read().strip()
        except OSError as e:
            logline("fatal", f"reading token-file: {e}")
            sys.exit(1)
    if token and token.split(":")[-1] != fx["k3s"]["token"]:
        logline("fatal", "starting kubernetes: preparing server: bootstrap data already found "
                "and encrypted with different token")
        sys.exit(1)

    etcd_name = None
    if role == "server":
        etcd_proc, etcd_name = start_etcd(cfg, fx, host, cfg.get("server") or
                                          os.environ.get("K3S_URL"))
        # testClusterDB(): not ready until the member answers and Test() passes (a learner waits
        # for the leader to promote it).
        last = None
        while True:
            if etcd_proc.poll() is not None:
                logline("fatal", f"etcd exited with code {etcd_proc.returncode}")
                sys.exit(1)
            try:
                why = labetcd.test(cfg, etcd_name, host["bridgeAddress"])
            except ETCD_ERRORS as e:
                why = f"waiting for etcd: {e}"
            if why is None:
                break
            if why != last and not why.startswith("waiting"):
                logline("info", f"Failed to test data store connection: {why}")
            last = why
            time.sleep(1)
        # What this server runs with, for servers that join it later (compareConfig).
        etcd_put(labetcd.CRITICAL_PREFIX + NODE_NAME, json.dumps(critical_of(cfg)))
        threading.Thread(target=manage_learners, args=(cfg, fx, stopping), daemon=True).start()

        def write_record(rec):
            etcd_put(NODE_PREFIX + rec["name"], json.dumps(rec))
    else:
        if not (cfg.get("server") or os.environ.get("K3S_URL")):
            logline("fatal", "--server is required")
            sys.exit(1)
        # Lab-only: an agent's kubelet reaches the datastore through a server's apiserver; the
        # stand-in writes its Node record over gRPC to the servers' 2379 with the lab's client pair.
        endpoints = [labetcd.client_url(h["bridgeAddress"]) for h in servers_of(fx)]

        def write_record(rec):
            rc, _, err = labetcd.etcdctl(["put", NODE_PREFIX + rec["name"], json.dumps(rec)],
                                         endpoints)
            if rc != 0:
                raise RuntimeError(err)

    def heartbeat(ready):
        try:
            write_record(node_record(host, fx, ready, started, etcd_name, identity))
            return True
        except ETCD_ERRORS:
            return False

    heartbeat(False)
    time.sleep(fx.get("readyDelaySeconds", 1))
    while not heartbeat(True) and not stopping.is_set():
        time.sleep(1)
    lablib.ctl(NODE_NAME, {"op": "notify", "unit": os.environ.get("NOTIFY_UNIT", "k3s"),
                           "pid": os.getpid(), "info": {"version": VERSION, "startedAt": started}})
    logline("info", f"k3s {role} is up and running")
    while True:
        time.sleep(fx.get("heartbeatSeconds", 5))
        heartbeat(True)
        if etcd_proc is not None and etcd_proc.poll() is not None:
            logline("fatal", "etcd exited")
            sys.exit(1)


# --- kubectl ------------------------------------------------------------------------------------
def condition_set(rec, grace):
    hb = rec["heartbeat"]
    age = time.time() - datetime.datetime.fromisoformat(hb.replace("Z", "+00:00")).timestamp()
    if age > grace:
        status, reason, msg = "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
    elif rec["ready"]:
        status, reason, msg = "True", "KubeletReady", "kubelet is posting ready status"
    else:
        status, reason, msg = "False", "KubeletNotReady", "container runtime status check may not have completed yet"
    conds = []
    for t, r in [("MemoryPressure", "KubeletHasSufficientMemory"),
                 ("DiskPressure", "KubeletHasNoDiskPressure"),
                 ("PIDPressure", "KubeletHasSufficientPID")]:
        s = "Unknown" if status == "Unknown" else "False"
        conds.append({"type": t, "status": s, "reason": reason if s == "Unknown" else r,
                      "message": msg if s == "Unknown" else "", "lastHeartbeatTime": hb,
                      "lastTransitionTime": rec["startedAt"]})
    conds.append({"type": "Ready", "status": status, "reason": reason, "message": msg,
                  "lastHeartbeatTime": hb, "lastTransitionTime": rec["startedAt"]})
    return conds


def node_json(rec, grace, spec=None, etcd_status=None):
    spec = spec or {}
    labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": "k3s",
              "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "kubernetes.io/hostname": rec["name"], "kubernetes.io/os": "linux",
              "node.kubernetes.io/instance-type": "k3s"}
    if rec["role"] == "server":
        labels.update({"node-role.kubernetes.io/control-plane": "true",
                       "node-role.kubernetes.io/etcd": "true",
                       "node-role.kubernetes.io/master": "true"})
    annotations = dict(spec.get("annotations") or {})
    if rec.get("etcdName"):
        annotations[labetcd.NODE_NAME_ANNOTATION] = rec["etcdName"]
        annotations[labetcd.NODE_ADDRESS_ANNOTATION] = rec["address"]
    conditions = condition_set(rec, grace) + ([etcd_status] if etcd_status else [])
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": rec["name"], "labels": labels,
                         "creationTimestamp": rec["created"],
                         **({"annotations": annotations} if annotations else {})},
            "spec": {"podCIDR": "10.42.0.0/24",
                     **({"unschedulable": True, "taints": [{
                         "effect": "NoSchedule", "key": "node.kubernetes.io/unschedulable",
                         "timeAdded": spec.get("cordonedAt")}]} if spec.get("unschedulable") else {})},
            "status": {"addresses": [{"type": "InternalIP", "address": rec["address"]},
                                     {"type": "Hostname", "address": rec["name"]}],
                       "conditions": conditions,
                       "nodeInfo": {"architecture": "amd64", "kubeletVersion": rec["kubeletVersion"],
                                    "kubeProxyVersion": rec["kubeletVersion"],
                                    "containerRuntimeVersion": "containerd://2.1.5-k3s1",
                                    "kernelVersion": os.uname().release,
                                    "operatingSystem": "linux",
                                    "osImage": "Debian GNU/Linux 12 (bookworm)"}}}


def jsonpath(obj, template):
    """The subset kubectl scripts use: text with {.a.b}, {.items[*].x}, {.a[0]},
    {.a[?(@.k=="v")].x} expressions, {range EXPR}...{end} and {"literal"} (with \\n)."""
    import re

    def evaluate(ctx, expr):
        nodes = [ctx]
        for part in re.findall(r"\[[^\]]*\]|[^.\[]+", expr.strip().lstrip(".")):
            nxt = []
            for n in nodes:
                if part == "[*]":
                    nxt.extend(n if isinstance(n, list) else list(n.values()))
                elif part.startswith("[?("):
                    k, v = re.match(r'\[\?\(@\.(\w+)==["\']?([^"\']*)["\']?\)\]', part).groups()
                    nxt.extend(x for x in n if isinstance(x, dict) and str(x.get(k)) == v)
                elif part.startswith("["):
                    idx = int(part[1:-1])
                    if isinstance(n, list) and -len(n) <= idx < len(n):
                        nxt.append(n[idx])
                elif isinstance(n, dict) and part in n:
                    nxt.append(n[part])
            nodes = nxt
        return nodes

    def text(nodes):
        return " ".join(x if isinstance(x, str) else json.dumps(x) for x in nodes)

    tokens = re.split(r"(\{[^}]*\})", template)

    def render(i, ctx):
        """Renders tokens from i until {end} or the end; returns (text, index after)."""
        out = []
        while i < len(tokens):
            tok = tokens[i]
            if not (tok.startswith("{") and tok.endswith("}")):
                out.append(tok)
                i += 1
                continue
            inner = tok[1:-1].strip()
            if inner == "end":
                return "".join(out), i + 1
            if inner.startswith("range "):
                items = evaluate(ctx, inner[len("range "):])
                after = render(i + 1, {})[1]
                out.extend(render(i + 1, item)[0] for item in items)
                i = after
                continue
            if inner.startswith('"') and inner.endswith('"'):
                out.append(json.loads(inner))
            else:
                out.append(text(evaluate(ctx, inner)))
            i += 1
        return "".join(out), i

    return render(0, obj)[0]


def kubectl(args):
    host = me()
    if host["role"] != "server":
        lablib.die("The connection to the server localhost:8080 was refused - did you specify the right host or port?")
    unit = lablib.ctl(NODE_NAME, {"op": "unit", "unit": "k3s", "action": "status"}, timeout=10)
    if unit.get("state") != "active":
        lablib.die(REFUSED)
    output, rest = None, []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-o", "--output"):
            output = args[i + 1]
            i += 1
        elif a.startswith(("-o=", "--output=")):
            output = a.split("=", 1)[1]
        elif a.startswith("-o") and len(a) > 2:
            output = a[2:]
        else:
            rest.append(a)
        i += 1
    if rest and rest[0] in ("cordon", "uncordon", "drain", "annotate"):
        return node_verb(rest)
    if len(rest) < 2 or rest[0] != "get" or rest[1] not in ("node", "nodes", "no"):
        lablib.die(f"lab k3s stand-in: only 'kubectl get node(s) [NAME] [-o json|wide|jsonpath=...]', "
                   f"cordon, uncordon, drain and annotate node are supported, not {' '.join(args)!r}")
    try:
        records = etcd_range(NODE_PREFIX)
        specs = {s_["name"]: s_ for s_ in etcd_range(NODESPEC_PREFIX)}
        voter = {}
        for r in records:  # the EtcdIsVoter conditions the leader's loop set
            c = etcd_get(labetcd.STATUS_PREFIX + r["name"]) if r.get("role") == "server" else None
            if c:
                voter[r["name"]] = c
    except ETCD_ERRORS:
        lablib.die("Error from server: etcdserver: request timed out")
    grace = lablib.fixture().get("nodeMonitorGracePeriodSeconds", 40)
    nodes = sorted((node_json(r, grace, specs.get(r["name"]), voter.get(r["name"]))
                    for r in records), key=lambda n: n["metadata"]["name"])
    if len(rest) > 2:
        nodes = [n for n in nodes if n["metadata"]["name"] == rest[2]]
        if not nodes:
            lablib.die(f'Error from server (NotFound): nodes "{rest[2]}" not found')
        obj = nodes[0]
    else:
        obj = {"apiVersion": "v1", "items": nodes, "kind": "List", "metadata": {"resourceVersion": ""}}
    if output == "json":
        print(json.dumps(obj, indent=4))
    elif output and output.startswith("jsonpath="):
        sys.stdout.write(jsonpath(obj, output[len("jsonpath="):]))
    elif output == "name":
        for n in nodes:
            print(f"node/{n['metadata']['name']}")
    else:
        print(f"{'NAME':<20} {'STATUS':<9} {'ROLES':<27} {'VERSION'}")
        for n in nodes:
            ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
            roles = "control-plane,etcd,master" if "node-role.kubernetes.io/etcd" in n["metadata"]["labels"] else "<none>"
            status = ("Ready" if ready["status"] == "True" else "NotReady") + (
                ",SchedulingDisabled" if n["spec"].get("unschedulable") else "")
            print(f"{n['metadata']['name']:<20} {status:<9} "
                  f"{roles:<27} {n['status']['nodeInfo']['kubeletVersion']}")


def node_spec(name):
    """The node's schedulability and annotations; dies like kubectl when the node is unknown."""
    try:
        if not etcd_range(NODE_PREFIX + name):
            lablib.die(f'Error from server (NotFound): nodes "{name}" not found')
        found = etcd_range(NODESPEC_PREFIX + name)
    except ETCD_ERRORS:
        lablib.die("Error from server: etcdserver: request timed out")
    spec = next((x for x in found if x.get("name") == name), None)
    return spec or {"name": name, "unschedulable": False, "annotations": {}}


def save_spec(spec):
    etcd_put(NODESPEC_PREFIX + spec["name"], json.dumps(spec))


def set_unschedulable(spec, value, verb):
    if spec.get("unschedulable", False) == value:
        print(f"node/{spec['name']} already {verb}")
        return
    spec["unschedulable"] = value
    spec["cordonedAt"] = lablib.now_iso() if value else None
    save_spec(spec)
    print(f"node/{spec['name']} {verb}")


def go_duration(seconds):
    """Whole seconds as Go's time.Duration.String() prints them: 10s, 5m0s, 1h2m3s."""
    h, rest = divmod(int(seconds), 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    return f"{m}m{sec}s" if m else f"{sec}s"


def node_verb(rest):
    """cordon NAME | uncordon NAME | annotate [--overwrite] node NAME k=v|k- |
    drain NAME [--ignore-daemonsets] [--delete-emptydir-data] [--timeout=Ns]"""
    verb, words = rest[0], [w for w in rest[1:] if not w.startswith("-")]
    flags = [w for w in rest[1:] if w.startswith("-")]
    if verb == "annotate":
        if len(words) < 3 or words[0] not in ("node", "nodes", "no"):
            lablib.die("lab k3s stand-in: only 'kubectl annotate [--overwrite] node NAME KEY=VALUE|KEY-'")
        spec = node_spec(words[1])
        for kv in words[2:]:
            if kv.endswith("-") and "=" not in kv:
                spec["annotations"].pop(kv[:-1], None)
            else:
                k, _, v = kv.partition("=")
                if k in spec["annotations"] and "--overwrite" not in flags:
                    lablib.die(f"error: --overwrite is false but found the following declared "
                               f"annotation(s): '{k}' already has a value ({spec['annotations'][k]})")
                spec["annotations"][k] = v
        save_spec(spec)
        print(f"node/{spec['name']} annotated")
        return
    if not words:
        lablib.die(f"error: USAGE: {verb} NODE [flags]")
    spec = node_spec(words[0])
    if verb == "uncordon":
        return set_unschedulable(spec, False, "uncordoned")
    set_unschedulable(spec, True, "cordoned")
    if verb == "cordon":
        return
    timeout = 0
    for f in flags:
        if f.startswith("--timeout="):
            timeout = int(f.split("=", 1)[1].rstrip("s"))
    # Tests block a drain with a pod whose disruption budget allows no eviction.
    fault = os.path.join(lablib.SHARED, "faults", spec["name"], "drain")
    if os.path.exists(fault):
        pod = open(fault).read().strip() or "default/web-0"
        ns, name = pod.split("/", 1)
        begin = time.time()
        print(f"evicting pod {pod}", flush=True)
        while not timeout or time.time() - begin < timeout:
            print(f'error when evicting pods/"{name}" -n "{ns}" (will retry after 5s): Cannot evict '
                  "pod as it would violate the pod's disruption budget.", file=sys.stderr, flush=True)
            time.sleep(min(5, max(0.1, timeout - (time.time() - begin))) if timeout else 5)
            print(f"evicting pod {pod}", flush=True)
        # kubectl prints the timeout with Go's time.Duration String(): 300s is "5m0s"
        # (kubernetes/kubectl pkg/drain/drain.go, "global timeout reached: %v").
        shown = go_duration(timeout)
        print(f'There are pending pods in node "{spec["name"]}" when an error occurred: error when '
              f'evicting pods/"{name}" -n "{ns}": global timeout reached: {shown}', file=sys.stderr)
        print(f'error: unable to drain node "{spec["name"]}" due to error: error when evicting '
              f'pods/"{name}" -n "{ns}": global timeout reached: {shown}, continuing command...',
              file=sys.stderr)
        sys.exit(1)
    print(f"node/{spec['name']} drained")


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
        mutating = len(args) > 1 and args[1] in ("cordon", "uncordon", "drain", "annotate")
        try:
            kubectl(args[1:])
        except SystemExit as e:
            lablib.event("k3s", "kubectl", mutating, args=args[1:], exitCode=e.code)
            raise
        lablib.event("k3s", "kubectl", mutating, args=args[1:], exitCode=0)
        return 0
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
