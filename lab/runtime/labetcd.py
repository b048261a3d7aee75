"""etcd as K3s runs it, for the lab's k3s stand-in (python3 stdlib only; lab/README.md,
"Conformance", cites each behaviour's upstream source).

k3s-io/k3s pkg/etcd/etcd.go: member names (`setName`), listeners (`listenClientURLs`,
`listenClientHTTPURLs`, `listenMetricsURLs`, `listenPeerURLs`, `clientURL`, `peerURL`), the
executor.ETCDConfig `cluster()` fills in, `join()` (MemberAddAsLearner through an existing member,
then start with initial-cluster-state existing), `Test()` (a learner is not ready), and the
leader's `manageLearners()` loop (`trackLearnerProgress` -> MemberPromote, `getETCDStatus`,
`setEtcdStatusCondition` -> the Node's EtcdIsVoter condition).

The stand-in talks to its own member over K3s's client certificate: the JSON gateway on
https://<loopback>:2382 for local requests, and etcdctl (the same Go client K3s embeds) over gRPC
on https://<node-ip>:2379 for other members, as K3s's client does.
"""
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import lablib

DATA_DIR = "/var/lib/rancher/k3s"
DB_DIR = f"{DATA_DIR}/server/db/etcd"
NAME_FILE = f"{DB_DIR}/name"
TLS = f"{DATA_DIR}/server/tls/etcd"
BIN = os.path.join(lablib.SHARED, "bin")
# A guest-private wrapper tests may put in front of the shared etcd (e.g. strace delaying its
# fdatasync on one member); the shared binary itself is every guest's.
LOCAL_ETCD = "/usr/local/libexec/k3s-lab/etcd"
LAB_CLIENT = os.path.join(lablib.SHARED, "etcd-client")
CRITICAL_PREFIX = "/registry/k3s-lab/critical-config/"
NODE_NAME_ANNOTATION = "etcd.k3s.cattle.io/node-name"
NODE_ADDRESS_ANNOTATION = "etcd.k3s.cattle.io/node-address"
HEARTBEAT_INTERVAL = 300  # setEtcdStatusCondition: an unchanged condition is re-stamped every 5 min

CONDITIONS = {
    "learner": ("False", "MemberIsLearner",
                "Node has not been promoted to voting member of the etcd cluster"),
    "voter": ("True", "MemberNotLearner", "Node is a voting member of the etcd cluster"),
    "unhealthy": ("False", "Unhealthy", "Node is unhealthy"),
    "unjoined": ("False", "NotAMember", "Node is not a member of the etcd cluster"),
}


class Retry(Exception):
    """A join step K3s retries (too many learners, unhealthy cluster, member list failed)."""


def loopback(cfg):
    """config.Control.Loopback(true): [::1] when the (first) service CIDR is IPv6."""
    cidr = str(cfg.get("service-cidr", "10.43.0.0/16")).split(",")[0]
    return "[::1]" if ":" in cidr else "127.0.0.1"


# --- client side ------------------------------------------------------------------------------
def tls_files():
    """K3s's client pair on a server; the lab's own pair elsewhere (agents have none)."""
    d = TLS if os.path.exists(f"{TLS}/client.crt") else LAB_CLIENT
    return f"{d}/server-ca.crt", f"{d}/client.crt", f"{d}/client.key"


def _context():
    ca, cert, key = tls_files()
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    return ctx


def gateway(cfg, path, body, timeout=8):
    """POST to this member's JSON gateway (https://<loopback>:2382/v3/<path>)."""
    req = urllib.request.Request(f"https://{loopback(cfg)}:2382/v3/{path}",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout, context=_context()) as r:
        out = json.loads(r.read())
    if "error" in out:
        raise RuntimeError(out["error"])
    return out


def etcdctl(args, endpoints, timeout=5):
    """Run etcdctl over gRPC with the client pair; returns (exit code, stdout, stderr)."""
    ca, cert, key = tls_files()
    argv = [f"{BIN}/etcdctl", "--endpoints", ",".join(endpoints), "--cacert", ca, "--cert", cert,
            "--key", key, "--dial-timeout=2s", f"--command-timeout={timeout}s"] + args
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return 1, "", "context deadline exceeded"
    lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    return r.returncode, r.stdout, (errors or lines or [""])[-1]


# --- the member -------------------------------------------------------------------------------
def member_name(node):
    """setName(false): <node>-<first 8 of a UUID>, kept in db/etcd/name."""
    try:
        with open(NAME_FILE) as f:
            return f.read()
    except FileNotFoundError:
        name = f"{node}-{str(uuid.uuid4())[:8]}"
        os.makedirs(DB_DIR, mode=0o700, exist_ok=True)
        with open(NAME_FILE, "w") as f:
            f.write(name)
        os.chmod(NAME_FILE, 0o600)
        return name


def initialized():
    """IsInitialized(): the WAL directory exists."""
    return os.path.isdir(f"{DB_DIR}/member/wal")


def peer_url(ip):
    return f"https://{ip}:2380"


def client_url(ip):
    return f"https://{ip}:2379"


def etcd_argv(cfg, name, ip, initial=None):
    """The executor.ETCDConfig of cluster() as etcd flags, then the config's etcd-arg."""
    lb = loopback(cfg)
    binary = LOCAL_ETCD if os.access(LOCAL_ETCD, os.X_OK) else f"{BIN}/etcd"
    argv = [binary, "--name", name, "--data-dir", DB_DIR,
            "--listen-client-urls", f"https://{lb}:2379,{client_url(ip)}",
            "--advertise-client-urls", client_url(ip),
            "--listen-client-http-urls", f"https://{lb}:2382",
            "--listen-metrics-urls", f"http://{lb}:2381",
            "--listen-peer-urls", f"https://{lb}:2380,{peer_url(ip)}",
            "--initial-advertise-peer-urls", peer_url(ip),
            "--client-cert-auth", "--trusted-ca-file", f"{TLS}/server-ca.crt",
            "--cert-file", f"{TLS}/server-client.crt", "--key-file", f"{TLS}/server-client.key",
            "--peer-client-cert-auth", "--peer-trusted-ca-file", f"{TLS}/peer-ca.crt",
            "--peer-cert-file", f"{TLS}/peer-server-client.crt",
            "--peer-key-file", f"{TLS}/peer-server-client.key",
            "--snapshot-count", "10000", "--election-timeout", "5000",
            "--heartbeat-interval", "500", "--logger", "zap", "--log-outputs", "stderr",
            "--experimental-initial-corrupt-check=true"]
    if initial:
        argv += ["--initial-cluster", initial["cluster"], "--initial-cluster-state",
                 initial["state"]]
    extra = cfg.get("etcd-arg", [])
    for a in extra if isinstance(extra, list) else [extra]:
        argv.append("--" + str(a).lstrip("-"))
    return argv


def join(name, node, ip, endpoints):
    """join(): the cluster from an existing member's list, adding this one as a learner."""
    rc, out, err = etcdctl(["member", "list", "-w", "json"], endpoints)
    if rc != 0:
        raise Retry(f"Waiting to retrieve etcd cluster member list: {err}")
    cluster, add = [], True
    for m in json.loads(out).get("members", []):
        mname = m.get("name", "")
        for peer in m.get("peerURLs", []):
            host = urllib.parse.urlparse(peer).hostname
            if mname == "" and host == ip:
                mname = name
            if mname == name and host == ip:
                add = False
            cluster.append(f"{mname}={m['peerURLs'][0]}")
        dash = mname.rfind("-")
        if mname != name and (mname[:dash] if dash > 1 else mname) == node:
            try:
                os.remove(NAME_FILE)
            except OSError:
                pass
            raise RuntimeError("duplicate node name found, please use a unique name for this node")
    if add:
        log("info", f"Adding member {name}={peer_url(ip)} to etcd cluster {cluster}")
        rc, _, err = etcdctl(["member", "add", name, "--peer-urls", peer_url(ip), "--learner"],
                             endpoints)
        if rc != 0:
            if "too many learner" in err or "unhealthy cluster" in err:
                raise Retry(f"Waiting for other members to finish joining etcd cluster: {err}")
            raise Retry(f"Waiting to retrieve etcd cluster member list: {err}")
        cluster.append(f"{name}={peer_url(ip)}")
    log("info", f"Starting etcd to join cluster with members {cluster}")
    return {"cluster": ",".join(cluster), "state": "existing"}


def log(level, msg):
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sys.stderr.write(f'time="{ts}" level={level} msg="{msg}"\n')
    sys.stderr.flush()


def local_status(cfg):
    return gateway(cfg, "maintenance/status", {}, timeout=3)


def test(cfg, name, ip):
    """Test(): None when this member is a voter in the list, else the reason it is not ready."""
    status = local_status(cfg)
    if status.get("isLearner"):
        return "this server has not yet been promoted from learner to voting member"
    for m in gateway(cfg, "cluster/member/list", {}).get("members", []):
        if m.get("name") == name and peer_url(ip) in m.get("peerURLs", []):
            return None
    return f"this server is a not a member of the etcd cluster, expect: {name}={peer_url(ip)}"


# --- the leader's loop ------------------------------------------------------------------------
def member_status(url):
    """getETCDStatus(member.ClientURLs[0]), with K3s's 2 s dial timeout."""
    rc, out, err = etcdctl(["endpoint", "status", "-w", "json"], [url], timeout=2)
    if rc != 0:
        reason = "context deadline exceeded" if "deadline" in err or "timed out" in err else err
        return f"failed to check etcd member status: {reason}"
    try:
        errors = json.loads(out)[0]["Status"].get("errors", [])
    except (ValueError, KeyError, IndexError):
        return "failed to check etcd member status: unreadable status"
    if errors:
        return "etcd member has status errors: " + ",".join(errors)
    return None


def set_condition(read, write, node, kind, message):
    """setEtcdStatusCondition(): a change stamps both times; the same condition only its
    heartbeat, and only once it is older than 5 minutes."""
    status, reason, default_msg = CONDITIONS[kind]
    new = {"type": "EtcdIsVoter", "status": status, "reason": reason,
           "message": message or default_msg}
    old = read(node)
    now = lablib.now_iso()
    if old and all(old.get(k) == new[k] for k in ("status", "reason", "message")):
        age = time.time() - iso_seconds(old.get("lastHeartbeatTime", now))
        if age < HEARTBEAT_INTERVAL:
            return
        write(node, dict(old, lastHeartbeatTime=now))
        return
    new["lastHeartbeatTime"] = now
    new["lastTransitionTime"] = now
    write(node, new)


def iso_seconds(ts):
    import datetime
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def manage_once(cfg, nodes, read, write, hold_promotion):
    """One tick of manageLearners(), on the etcd leader only. `nodes` are the etcd Nodes (name,
    etcdName from K3s's annotation); read(node)/write(node, condition) get and set the Node's
    EtcdIsVoter condition; hold_promotion(node name, from the member's name) is a lab fault."""
    status = local_status(cfg)
    if status.get("header", {}).get("member_id") != status.get("leader"):
        return
    members = gateway(cfg, "cluster/member/list", {}).get("members", [])
    is_member = {n["name"]: False for n in nodes}
    for m in members:
        kind = "voter"
        node = next((n for n in nodes if n.get("etcdName") == m.get("name")), None)
        if m.get("isLearner"):
            kind = "learner"
            mname = m.get("name", "")
            if not hold_promotion(mname[:mname.rfind("-")] if "-" in mname else mname):
                try:  # trackLearnerProgress: promotion fails while the learner is behind
                    gateway(cfg, "cluster/member/promote", {"ID": m["ID"]})
                    log("info", f"Promoted learner {m.get('name')}")
                except (OSError, RuntimeError, ValueError) as e:
                    log("debug", f"Unable to promote learner {m.get('name')}: {e}")
        if node is None:
            continue
        is_member[node["name"]] = True
        urls = m.get("clientURLs") or []
        message = ""
        problem = member_status(urls[0]) if urls else \
            "failed to check etcd member status: member has no client URL"
        if problem:
            kind, message = "unhealthy", problem
        set_condition(read, write, node["name"], kind, message)
    for n in nodes:
        if not is_member[n["name"]]:
            set_condition(read, write, n["name"], "unjoined", "")


# --- critical configuration (Cluster.bootstrap -> compareConfig) ------------------------------
def critical_of_target(endpoints, target):
    """The critical config the server we join runs with (K3s fetches /v1-k3s/config from it)."""
    rc, out, err = etcdctl(["get", CRITICAL_PREFIX + target, "--print-value-only"], endpoints)
    if rc != 0 or not out.strip():
        raise Retry(f"failed to get config from the server it joins: {err or 'not yet known'}")
    return json.loads(out.strip())
