"""Shared helpers for the lab's supervisor and stand-ins (python3 stdlib only).

Inside a test host the shared lab dir is mounted at /run/k3s-homelab-lab; the lab CLI
points K3S_HOMELAB_LAB_DIR at <repo>/.lab/shared when it runs these from the root namespace.
"""
import datetime
import fcntl
import json
import os
import socket
import sys
import threading

SHARED = os.environ.get("K3S_HOMELAB_LAB_DIR", "/run/k3s-homelab-lab")


def now_iso():
    """ISO-8601 UTC timestamp with milliseconds, e.g. 2025-11-27T03:40:00.123Z."""
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_STARTED = now_iso()  # when this stand-in process began (its event is written at the end)


def fixture():
    with open(os.path.join(SHARED, "fixture.json")) as f:
        return json.load(f)


def host_entry(name):
    for h in fixture()["hosts"]:
        if h["name"] == name:
            return h
    raise KeyError(f"host {name!r} is not in the lab fixture")


def event(tool, action, mutating, host=None, **details):
    """Append one JSON line to the shared event log (flock keeps lines whole and ordered)."""
    if os.environ.get("LAB_EVENTS") == "off":
        return
    rec = {"ts": now_iso(), "host": host or socket.gethostname(), "tool": tool,
           "action": action, "mutating": bool(mutating)}
    if tool != "lab":
        rec["startedAt"] = _STARTED
    rec.update(details)
    line = json.dumps(rec, separators=(",", ":")) + "\n"
    path = os.path.join(SHARED, "events.jsonl")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def ctl(host, request, timeout=None):
    """Send one JSON request to a host's supervisor and return its JSON reply."""
    path = os.path.join(SHARED, "ctl", f"{host}.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall((json.dumps(request) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    if not buf:
        raise ConnectionError(f"supervisor of {host} closed the connection")
    return json.loads(buf)


def state(host):
    """The state file a host's supervisor keeps (power, phase, units)."""
    try:
        with open(os.path.join(SHARED, "state", f"{host}.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def write_atomic(path, text, mode=0o644):
    tmp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def die(msg, code=1):
    sys.stderr.write(msg if msg.endswith("\n") else msg + "\n")
    sys.exit(code)
