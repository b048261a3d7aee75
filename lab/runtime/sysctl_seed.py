"""The private /proc/sys of a test host: a tmpfs seeded with copies of the real values.

Reading the real /proc/sys is fine; every write (sysctl -w / -p) lands in the tmpfs.
"""
import os
import shutil
import subprocess

PROC_SYS = "/proc/sys"
# systemd-sysctl's search path: a file name found in an earlier dir masks the same name later.
SYSCTL_DIRS = ["/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d",
               "/usr/lib/sysctl.d", "/lib/sysctl.d"]


def snapshot(root=PROC_SYS):
    """Copy every readable sysctl under root into memory: {relative path: (mode, bytes)}."""
    seed = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                mode = os.stat(path).st_mode & 0o777
                if not mode & 0o444:
                    continue
                with open(path, "rb") as f:
                    seed[os.path.relpath(path, root)] = (mode, f.read())
            except OSError:
                continue  # write-only or refusing entries (e.g. net.ipv4.route.flush)
    return seed


def with_defaults(seed, defaults):
    """Override seeded values with the fixture's boot defaults ({"vm.swappiness": 60})."""
    out = dict(seed)
    for key, value in defaults.items():
        rel = key.replace(".", "/")
        mode = out.get(rel, (0o644, b""))[0]
        out[rel] = (mode, f"{value}\n".encode())
    return out


def write_seed(seed, target=PROC_SYS):
    """Empty target (a tmpfs) and write the seed into it."""
    for entry in os.listdir(target):
        p = os.path.join(target, entry)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    for rel, (mode, data) in seed.items():
        path = os.path.join(target, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)


def boot_files():
    """The files systemd-sysctl applies at boot, in its order (sorted by file name)."""
    chosen = {}
    for d in SYSCTL_DIRS:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            if name.endswith(".conf") and name not in chosen:
                chosen[name] = os.path.join(d, name)
    files = []
    for name in sorted(chosen):
        path = chosen[name]
        if os.path.realpath(path) == "/dev/null" or not os.path.exists(path):
            continue  # masked, or a dangling link
        files.append(path)
    return files


def apply_boot_files():
    """Apply each boot file with the real sysctl, like systemd-sysctl.service at boot."""
    applied = []
    for path in boot_files():
        subprocess.run(["sysctl", "-q", "-p", path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        applied.append(path)
    return applied
