"""Root-namespace forwarders: <host address>:<port> on the machine's loopback to the same port
on 127.0.0.1 inside the test host. A forwarder listens only while something listens inside,
so a stopped sshd or etcd member is refused, as on a real machine."""
import os
import signal
import subprocess
import threading
import time

ROOT_NETNS_FD = 3


def listening_ports():
    """Ports with a listener on 127.0.0.1 or any address in this network namespace."""
    ports = set()
    for table, loopback, anyaddr in [("/proc/net/tcp", "0100007F", "00000000"),
                                     ("/proc/net/tcp6", "00000000000000000000000001000000",
                                      "00000000000000000000000000000000")]:
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            addr, port = cols[1].split(":")
            if cols[3] == "0A" and addr in (loopback, anyaddr):
                ports.add(int(port, 16))
    return ports


class Forwarders:
    def __init__(self, address, ports, log):
        self.address = address
        self.ports = ports
        self.log = log
        self.procs = {}
        self.lock = threading.Lock()
        self.stopped = False

    def _start(self, port):
        inner = f"nsenter --net=/proc/{os.getpid()}/ns/net socat STDIO TCP\\:127.0.0.1\\:{port}"
        argv = ["nsenter", f"--net=/proc/self/fd/{ROOT_NETNS_FD}", "socat",
                f"TCP-LISTEN:{port},bind={self.address},reuseaddr,fork", f"EXEC:{inner}"]
        self.procs[port] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                            stderr=self.log, pass_fds=(ROOT_NETNS_FD,),
                                            start_new_session=True)

    def _stop(self, port):
        p = self.procs.pop(port)
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        p.wait()

    def sync(self):
        with self.lock:
            live = listening_ports() if not self.stopped else set()
            for port in self.ports:
                p = self.procs.get(port)
                if p is not None and p.poll() is not None:
                    self.procs.pop(port)  # died (e.g. address in use); retried next round
                    p = None
                if port in live and p is None:
                    self._start(port)
                elif port not in live and p is not None:
                    self._stop(port)

    def run(self, interval=0.25):
        while True:
            try:
                self.sync()
            except Exception as e:  # keep forwarding whatever one round hit
                self.log.write(f"forwarder sync failed: {e}\n".encode())
            time.sleep(interval)

    def close_all(self):
        with self.lock:
            self.stopped = True
            for port in list(self.procs):
                self._stop(port)
