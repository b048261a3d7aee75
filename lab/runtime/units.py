"""Just enough of systemd for the k3s / k3s-agent units: the unit file the installer writes,
enable links, start (Type=notify with TimeoutStartSec=0, as install.sh's
create_systemd_service_file writes it: a start job waits for READY=1 for ever), stop (SIGTERM,
then SIGKILL), state, and the unit's Restart=always / RestartSec=5s: a main process that exits
on its own is started again (systemd src/core/service.c: service_enter_dead() ->
service_shall_restart() -> SERVICE_AUTO_RESTART, which state_translation_table shows as
ActiveState=activating, SubState=auto-restart, until RestartSec passes; a stop cancels it)."""
import os
import shlex
import signal
import subprocess
import threading
import time

SYSTEMD_DIR = "/etc/systemd/system"
WANTS_DIR = f"{SYSTEMD_DIR}/multi-user.target.wants"
SUPPORTED = ("k3s", "k3s-agent")
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root", "LANG": "C.UTF-8"}


def unit_name(arg):
    """'k3s', 'k3s.service' or a path to the unit file -> 'k3s'."""
    base = os.path.basename(arg)
    return base[: -len(".service")] if base.endswith(".service") else base


def unit_path(name):
    return f"{SYSTEMD_DIR}/{name}.service"


def is_enabled(name):
    return os.path.lexists(f"{WANTS_DIR}/{name}.service")


def restart_policy(name):
    """Restart= and RestartSec= of the unit file (systemd's defaults: no, 100ms)."""
    restart, seconds = "no", 0.1
    with open(unit_path(name)) as f:
        for line in f:
            line = line.strip()
            if line.startswith("Restart="):
                restart = line[len("Restart="):].strip()
            elif line.startswith("RestartSec="):
                value = line[len("RestartSec="):].strip()
                seconds = float(value[:-1]) if value.endswith("s") else float(value)
    return restart, seconds


def parse_unit(name):
    """ExecStart argv and environment from the unit file (continuation lines joined)."""
    with open(unit_path(name)) as f:
        text = f.read().replace("\\\n", " ")
    exec_start, env_files = None, []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("ExecStart="):
            exec_start = shlex.split(line[len("ExecStart="):])
        elif line.startswith("EnvironmentFile="):
            env_files.append(line[len("EnvironmentFile="):].replace("%N", name))
    if not exec_start:
        raise ValueError(f"{unit_path(name)} has no ExecStart")
    env = dict(BASE_ENV)
    for spec in env_files:
        optional = spec.startswith("-")
        path = spec.lstrip("-")
        try:
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith("#") and "=" in line:
                        k, v = line.split("=", 1)
                        env[k] = v.strip().strip('"').strip("'")
        except OSError:
            if not optional:
                raise
    return exec_start, env


class Unit:
    def __init__(self, name, log_path):
        self.name = name
        self.log_path = log_path
        self.proc = None
        self.state = "inactive"  # inactive | activating | active | deactivating | failed
        self.sub = None  # "auto-restart" while a restart waits out RestartSec
        self.restarts = 0  # systemd's NRestarts
        self.ready = threading.Event()
        self.info = {}
        self.active_enter = None  # when the unit last became active (systemd's ActiveEnterTimestamp)
        self.active_enter_mono = None  # the same on CLOCK_MONOTONIC (…TimestampMonotonic)
        self.exec_start = None  # argv the main process was started with, and when
        self.exec_started = None
        self.lock = threading.RLock()

    def main_pid(self):
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def refresh(self):
        """Notice a main process that exited on its own (crash, config mismatch)."""
        if not self.lock.acquire(timeout=0.5):
            return self.state  # a start or stop is in progress
        try:
            if self.proc is not None and self.proc.poll() is not None:
                self._exited(self.proc)
        finally:
            self.lock.release()
        return self.state

    def _exited(self, proc):
        """The main process `proc` exited without a stop job (service_enter_dead with restart
        allowed): Restart=always, or on-failure with a non-zero status, waits RestartSec in
        auto-restart and starts the unit again; otherwise failed or inactive."""
        with self.lock:
            if self.proc is not proc or self.state not in ("active", "activating"):
                return
            self.proc = None
            self.ready.clear()
            try:
                restart, seconds = restart_policy(self.name)
            except (OSError, ValueError):  # the unit file is gone (uninstalled) or unreadable
                restart, seconds = "no", 0.1
            if restart == "always" or (restart == "on-failure" and proc.returncode != 0):
                self.state, self.sub = "activating", "auto-restart"
                timer = threading.Timer(seconds, self._auto_restart)
                timer.daemon = True
                timer.start()
            else:
                self.state = "failed" if proc.returncode != 0 else "inactive"

    def _auto_restart(self):
        with self.lock:
            if self.sub != "auto-restart":
                return  # stopped or started meanwhile
            self.restarts += 1
            self._spawn()

    def _watch(self, proc):
        proc.wait()
        self._exited(proc)

    def _spawn(self):
        argv, env = parse_unit(self.name)
        env["NOTIFY_UNIT"] = self.name
        log = open(self.log_path, "ab", buffering=0)
        self.ready.clear()
        self.info = {}
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, cwd="/",
                                     start_new_session=True)
        log.close()
        self.exec_start, self.exec_started = argv, time.time()
        self.state, self.sub = "activating", None
        threading.Thread(target=self._watch, args=(self.proc,), daemon=True).start()

    def start(self, wait=True):
        """Like a systemd start job: start the unit unless it is running or starting, then, unless
        `wait` is false (systemctl --no-block), wait for READY. TimeoutStartSec=0 disables the
        start timeout, so the wait ends only with READY or the main process's exit. The wait
        happens without the lock, since the unit's READY needs it."""
        with self.lock:
            # A start job during auto-restart starts the unit now (service_start() allows it).
            if self.refresh() not in ("active", "activating") or self.sub == "auto-restart":
                self._spawn()
            proc = self.proc
        return self._wait_ready(proc) if wait else True

    def _wait_ready(self, proc):
        """The start job's end: READY, or the job fails once its main process exits (the unit
        may go on to auto-restart; the job still failed)."""
        while True:
            if self.ready.wait(0.2):
                return True
            self.refresh()
            if proc is None or proc.poll() is not None:
                return self.ready.is_set()

    def notify_ready(self, info):
        with self.lock:
            self.info = info
            if self.state == "activating":
                self.state = "active"
                self.active_enter = time.time()
                self.active_enter_mono = time.monotonic()
            self.ready.set()

    def stop(self, timeout=90, hard=False):
        with self.lock:
            p = self.proc
            self.sub = None  # a stop job cancels a pending auto-restart
            if p is None or p.poll() is not None:
                self.proc = None
                if self.state != "failed":
                    self.state = "inactive"
                return
            self.state = "deactivating"
            p.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            self.proc = None
            self.state = "inactive"
            self.ready.clear()
