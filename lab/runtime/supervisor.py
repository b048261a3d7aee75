#!/usr/bin/python3
"""A test host's supervisor: holds its namespaces, boots and shuts it down, runs its units.

Started by the lab CLI as
  nsenter --net=/run/netns/hl-<name> unshare --mount --uts --propagation private \
      /usr/bin/python3 supervisor.py --lab-dir <repo>/.lab --host <name>
with fd 3 = the root network namespace and fd 4 = the machine's real root directory.
It answers JSON requests on <shared>/ctl/<name>.sock (one line in, one line out).
"""
import argparse
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forwarder  # noqa: E402
import httpd  # noqa: E402
import isolation  # noqa: E402
import lablib  # noqa: E402
import rootfs  # noqa: E402
import sysctl_seed  # noqa: E402
import units  # noqa: E402
import zfs_params  # noqa: E402

SHARED = rootfs.SHARED_MOUNT


def ns_processes():
    """Pids of every process in this host's mount namespace, except this supervisor."""
    mine = os.stat("/proc/self/ns/mnt").st_ino
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if os.stat(f"/proc/{entry}/ns/mnt").st_ino == mine:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def kill_namespace(grace=3.0):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in ns_processes():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace
        while ns_processes() and time.time() < deadline:
            time.sleep(0.05)
            _reap()


def _reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


class Supervisor:
    def __init__(self, host, fixture, seed):
        self.host = host
        self.name = host["name"]
        self.fixture = fixture
        self.seed = seed
        self.power_lock = threading.RLock()
        self.save_lock = threading.Lock()
        self.power = "stopped"
        self.phase = "off"
        self.boots = 0
        self.last_boot = {}
        self.isolation = None
        self.sshd = None
        self.log_dir = f"{SHARED}/logs"
        self.units = {u: units.Unit(u, f"{self.log_dir}/{self.name}-{u}.log")
                      for u in units.SUPPORTED} if host["kind"] == "guest" else {}
        self.fw = forwarder.Forwarders(host["address"], host["forwards"],
                                       open(f"{self.log_dir}/{self.name}-forward.log", "ab", 0))
        self.save()

    # --- state -----------------------------------------------------------------------------
    def snapshot(self):
        return {"host": self.name, "kind": self.host["kind"], "pid": os.getpid(),
                "power": self.power, "phase": self.phase, "boots": self.boots,
                "lastBoot": self.last_boot, "isolation": self.isolation,
                "sshd": self.sshd is not None and self.sshd.poll() is None,
                "units": {n: {"state": u.refresh(), "mainPid": u.main_pid(), **u.info}
                          for n, u in self.units.items()},
                "updated": lablib.now_iso()}

    def save(self):
        with self.save_lock:
            lablib.write_atomic(f"{SHARED}/state/{self.name}.json",
                                json.dumps(self.snapshot(), indent=1) + "\n")

    def event(self, action, **details):
        lablib.event("lab", action, False, host=self.name, **details)

    # --- boot and shutdown ---------------------------------------------------------------------
    def boot(self):
        with self.power_lock:
            self.power, self.phase = "running", "booting"
            self.save()
            seed = dict(self.seed)  # a new boot id per boot, as a real (re)boot gets
            seed["kernel/random/boot_id"] = (0o444, f"{uuid.uuid4()}\n".encode())
            sysctl_seed.write_seed(seed)
            applied = sysctl_seed.apply_boot_files()
            self.last_boot = {"at": lablib.now_iso(), "sysctlFiles": applied}
            if self.host.get("zfs"):
                self.last_boot["zfs"] = zfs_params.load_module(self.host["zfs"]["parameters"])
            problems = isolation.check(self.host, self.fixture["realHostname"])
            self.isolation = problems or "ok"
            if problems:
                self.phase = "refused"
                self.save()
                self.event("refused", problems=problems)
                raise RuntimeError(f"{self.name}: isolation check failed, sshd NOT started: "
                                   + "; ".join(problems))
            self.fw.stopped = False
            self._start_sshd()
            self.boots += 1
            self.phase = "up"
            self.save()
            self.event("boot", sysctlFiles=applied, zfs=self.last_boot.get("zfs"))
        for name, unit in self.units.items():
            if units.is_enabled(name):
                threading.Thread(target=self._start_unit_at_boot, args=(unit,),
                                 daemon=True).start()

    def _start_unit_at_boot(self, unit):
        ok = unit.start()
        self.save()
        self.event("unit-started" if ok else "unit-failed", unit=unit.name, at="boot")

    def _start_sshd(self):
        log = open(f"{self.log_dir}/{self.name}-sshd.log", "ab", 0)
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e"], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.time() + 10
        while 22 not in forwarder.listening_ports():
            if self.sshd.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{self.name}: sshd did not start, see logs/{self.name}-sshd.log")
            time.sleep(0.05)
        self.fw.sync()

    def kill_sshd(self):
        own = os.readlink("/proc/self/ns/net")
        killed = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
                if comm.startswith("sshd") and os.readlink(f"/proc/{pid}/ns/net") == own:
                    os.kill(int(pid), signal.SIGKILL)
                    killed.append(int(pid))
            except OSError:
                continue
        self.event("sshd-killed", pids=killed)
        return killed

    def shutdown(self, hard=False, power_off=True):
        with self.power_lock:
            if self.phase == "off":
                return
            self.phase = "shutting-down"
            self.save()
            for unit in self.units.values():
                unit.stop(hard=hard)
            self.fw.close_all()
            kill_namespace(grace=0.5 if hard else 3.0)
            self.sshd = None
            self.phase = "off"
            self.power = "stopped" if power_off else self.power
            self.save()
            self.event("poweroff" if power_off else "shutdown", hard=hard)

    def boot_later(self, delay):
        """Power on now, boot after `delay` seconds (the guest's boot time)."""
        with self.power_lock:
            self.power, self.phase = "running", "booting"
            self.save()

        def later():
            time.sleep(delay)
            try:
                self.boot()
            except Exception as e:
                self.event("boot-failed", error=str(e))
        threading.Thread(target=later, daemon=True).start()

    def guest_reboot(self):
        """A reboot from inside: services stop and come back; the VM (and its config) stay."""
        self.shutdown(power_off=False)
        self.boot_later(self.fixture["restartSeconds"])

    # --- requests -------------------------------------------------------------------------------
    def handle(self, req):
        op = req.get("op")
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}
        if op == "state":
            return {"ok": True, "state": self.snapshot()}
        if op == "boot":
            self.boot()
            return {"ok": True}
        if op == "power-on":
            if self.power == "running":
                return {"ok": False, "error": "already running"}
            self.boot_later(float(req.get("delay", self.fixture["restartSeconds"])))
            return {"ok": True}
        if op == "power-off":
            if req.get("after"):  # a guest still shutting down when `qm` gave up waiting
                threading.Timer(float(req["after"]), self.shutdown).start()
                return {"ok": True}
            self.shutdown(hard=bool(req.get("hard")))
            return {"ok": True}
        if op == "guest-reboot":
            threading.Thread(target=self.guest_reboot, daemon=True).start()
            return {"ok": True}
        if op == "unit":
            return self.unit_request(req)
        if op == "notify":
            unit = self.units[req["unit"]]
            if unit.main_pid() != req.get("pid"):
                return {"ok": False, "error": "not the unit's main process"}
            unit.notify_ready(req.get("info", {}))
            self.save()
            return {"ok": True}
        if op == "sshd-kill":
            # A test's fault: every sshd of this host (the listener and each connection's
            # process) killed at once, as a crash or the OOM killer would; sessions drop.
            return {"ok": True, "killed": self.kill_sshd()}
        if op == "sshd-start":
            # The owner starting it again (`systemctl start ssh` from the VM's console).
            if self.sshd is None or self.sshd.poll() is not None:
                self._start_sshd()
            return {"ok": True}
        if op == "check":
            return {"ok": True, "problems": isolation.check(self.host, self.fixture["realHostname"])}
        if op == "halt":
            threading.Thread(target=self.halt, daemon=True).start()
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def unit_request(self, req):
        name, action = units.unit_name(req["unit"]), req["action"]
        unit = self.units.get(name)
        if unit is None:
            return {"ok": False, "code": 5, "error": f"Unit {name}.service not found."}
        if action in ("start", "restart") and not os.path.exists(units.unit_path(name)):
            return {"ok": False, "code": 5, "error": f"Unit {name}.service not found."}
        if action in ("start", "restart") and self.phase != "up":
            return {"ok": False, "code": 1, "error": "the host is not up"}
        if req.get("noBlock") and action in ("start", "stop", "restart"):
            # systemctl --no-block: the job is enqueued and runs after systemctl has returned.
            threading.Thread(target=self._run_job, args=(unit, action), daemon=True).start()
            return {"ok": True, **self.unit_status(unit)}
        if not self._run_job(unit, action):
            return {"ok": False, "code": 1, "error":
                    f"Job for {name}.service failed because the control process exited "
                    f"with error code.\nSee \"systemctl status {name}.service\" and "
                    f"\"journalctl -xeu {name}.service\" for details."}
        return {"ok": True, **self.unit_status(unit)}

    def _run_job(self, unit, action):
        """One start/stop/restart job; a start waits for READY (no start timeout)."""
        if action in ("stop", "restart"):
            unit.stop()
            self.save()
        ok = True
        if action in ("start", "restart"):
            ok = unit.start()
            self.save()
            # When a queued (--no-block) job really ends: the unit is active (READY) or failed.
            self.event("unit-started" if ok else "unit-failed", unit=unit.name, at=action)
        return ok

    @staticmethod
    def unit_status(unit):
        state = unit.refresh()
        return {"state": state, "sub": unit.sub, "restarts": unit.restarts,
                "mainPid": unit.main_pid(),
                "activeEnter": unit.active_enter, "activeEnterMono": unit.active_enter_mono,
                "execStart": unit.exec_start, "execStarted": unit.exec_started, **unit.info}

    def halt(self):
        self.shutdown(hard=True)
        os._exit(0)


class CtlHandler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        try:
            reply = self.server.sup.handle(json.loads(line))
        except Exception as e:
            reply = {"ok": False, "error": str(e)}
        self.wfile.write((json.dumps(reply) + "\n").encode())


class CtlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lab-dir", required=True)
    ap.add_argument("--host", required=True)
    args = ap.parse_args()
    with open(os.path.join(args.lab_dir, "shared", "fixture.json")) as f:
        fixture = json.load(f)
    host = next(h for h in fixture["hosts"] if h["name"] == args.host)

    socket.sethostname(host["name"])
    seed = rootfs.build(host, os.path.join(args.lab_dir, "hosts", host["name"]),
                        os.path.join(args.lab_dir, "shared"), args.lab_dir)
    sup = Supervisor(host, fixture, seed)

    sock = f"{SHARED}/ctl/{host['name']}.sock"
    if os.path.exists(sock):
        os.unlink(sock)
    server = CtlServer(sock, CtlHandler)
    server.sup = sup
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=sup.fw.run, daemon=True).start()
    if host["kind"] == "guest":
        k3s = fixture["k3s"]
        httpd.serve(SHARED, fixture["installerPort"], k3s["releases"], k3s["channels"])
    signal.signal(signal.SIGTERM, lambda *_: sup.halt())
    print(f"supervisor {host['name']} ready (pid {os.getpid()})", flush=True)
    while True:
        time.sleep(1)
        _reap_orphans(sup)


def _reap_orphans(sup):
    """Reap exited children that no Popen owns (our own Popen objects reap theirs)."""
    owned = {p.pid for p in [sup.sshd, *[u.proc for u in sup.units.values()],
                             *sup.fw.procs.values()] if p is not None}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in owned:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] == "Z" and int(fields[1]) == os.getpid():
                os.waitpid(int(entry), os.WNOHANG)
        except (OSError, ChildProcessError):
            pass


if __name__ == "__main__":
    main()
