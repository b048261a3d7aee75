"""Checks a test host's isolation before its sshd may start.

fd 3 is the root network namespace and fd 4 the machine's real root directory, both
inherited from the lab CLI; everything here compares the host's view with the real one.
"""
import os

ROOT_NETNS_FD = 3
REAL_ROOT_FD = 4
CANARY_DIRS = ["/etc/sysctl.d", "/etc/modprobe.d", "/usr/local/bin", "/root/.ssh",
               "/var/lib/rancher", "/tmp"]


def _mounts():
    """{mount point: (fstype, options)} from this namespace's mountinfo (last mount wins)."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields = left.split()
            fstype = right.split()[0]
            out[fields[4].replace("\\040", " ")] = (fstype, fields[5])
    return out


def _fs_of(path, mounts):
    best = max((m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")), key=len)
    return mounts[best]


def _real_read(rel):
    fd = os.open(rel, os.O_RDONLY, dir_fd=REAL_ROOT_FD)
    try:
        return os.read(fd, 4096).decode().strip()
    finally:
        os.close(fd)


def _real_exists(rel):
    try:
        os.stat(rel, dir_fd=REAL_ROOT_FD)
        return True
    except FileNotFoundError:
        return False


def check(host, real_hostname):
    """Return a list of problems; empty means the host is isolated."""
    name = host["name"]
    problems = []
    if name == real_hostname:
        problems.append(f"the host name {name!r} is the machine's own hostname")
    elif os.uname().nodename != name:
        problems.append(f"hostname is {os.uname().nodename!r}, want {name!r} (UTS namespace)")
    if os.stat("/proc/self/ns/net").st_ino == os.fstat(ROOT_NETNS_FD).st_ino:
        problems.append("network namespace is the root namespace")

    mounts = _mounts()
    for p in ("/proc/sys", "/proc/sys/vm", "/proc/sys/kernel"):
        if _fs_of(p, mounts)[0] != "tmpfs":
            problems.append(f"{p} is not on the lab tmpfs")
    if "ro" not in _fs_of("/sys", mounts)[1].split(","):
        problems.append("/sys is writable")
    if host.get("zfs") and _fs_of("/sys/module/zfs", mounts)[0] != "tmpfs":
        problems.append("/sys/module is not the lab tmpfs")

    # A canary value in vm.swappiness must not reach the real kernel.
    local = "/proc/sys/vm/swappiness"
    with open(local) as f:
        mine = f.read().strip()
    real = _real_read("proc/sys/vm/swappiness")
    canary = next(str(v) for v in range(1, 200) if str(v) not in (mine, real))
    with open(local, "w") as f:
        f.write(canary + "\n")
    if _real_read("proc/sys/vm/swappiness") != real:
        problems.append("a write to /proc/sys/vm/swappiness reached the real kernel")
    with open(local, "w") as f:
        f.write(mine + "\n")

    # Canary files in private dirs must not appear on the real machine.
    for d in CANARY_DIRS:
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, f".lab-canary-{name}-{os.getpid()}")
        with open(path, "w") as f:
            f.write("lab canary\n")
        try:
            if _real_exists(path.lstrip("/")):
                problems.append(f"{d} is not private: the canary is visible on the machine")
        finally:
            os.unlink(path)
    return problems
