"""Build a test host's private root inside its own mount namespace, then pivot into it.

/ is an overlay (lower: the machine's root file system, upper: the host's dir), so every
write a test host makes lands in <lab>/hosts/<name>/. /etc, /root, /usr/local/bin and
/var/lib/rancher are plain private dirs bind-mounted on top; /proc/sys, /run, /tmp, /dev
are fresh; /sys is read-only (with a writable fake /sys/module on Proxmox hosts).
"""
import os
import subprocess

import sysctl_seed

SYSTEM_TOP_DIRS = {"bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32",
                   "media", "mnt", "opt", "proc", "root", "run", "sbin", "srv", "sys",
                   "tmp", "usr", "var"}
SHARED_MOUNT = "/run/k3s-homelab-lab"
# Programs that would reach the real machine from a test host: replaced in the overlay.
MACHINE_ONLY = ["/usr/bin/kubectl", "/usr/bin/crictl", "/usr/bin/ctr"]
REFUSED = ["/usr/sbin/modprobe", "/usr/sbin/insmod", "/usr/sbin/rmmod"]


def mount(*args):
    subprocess.run(["mount", *args], check=True)


def _devices(dev):
    mount("-t", "tmpfs", "-o", "mode=755,nosuid", "lab-dev", dev)
    for name, major, minor in [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7),
                               ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]:
        os.mknod(os.path.join(dev, name), 0o666 | 0o020000, os.makedev(major, minor))
        os.chmod(os.path.join(dev, name), 0o666)
    for d in ("pts", "shm"):
        os.mkdir(os.path.join(dev, d))
    mount("-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620", "devpts", f"{dev}/pts")
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "shm", f"{dev}/shm")
    for name, target in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")]:
        os.symlink(target, os.path.join(dev, name))


def _bind(src, dst):
    os.makedirs(dst, exist_ok=True)
    mount("--bind", src, dst)


def _replace_with_link(root, path, target):
    p = root + path
    if os.path.lexists(p):
        os.unlink(p)
    os.symlink(target, p)


def build(host, hostdir, shareddir, labdir):
    """Mount everything under hostdir/root and pivot_root into it. Returns the sysctl seed."""
    r = os.path.join(hostdir, "root")
    mount("-t", "overlay", "-o",
          f"lowerdir=/,upperdir={hostdir}/upper,workdir={hostdir}/work", "lab-root", r)
    mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", f"{r}/proc")
    _devices(f"{r}/dev")
    if os.path.exists(f"{r}/proc/sysrq-trigger"):
        mount("--bind", f"{r}/dev/null", f"{r}/proc/sysrq-trigger")

    seed = sysctl_seed.with_defaults(sysctl_seed.snapshot(), host.get("sysctl", {}))
    mount("-t", "tmpfs", "-o", "mode=555,nosuid,nodev,noexec", "lab-proc-sys", f"{r}/proc/sys")
    sysctl_seed.write_seed(seed, f"{r}/proc/sys")

    mount("-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", f"{r}/sys")
    if host.get("zfs"):
        mount("-t", "tmpfs", "-o", "mode=755,nosuid,nodev,noexec", "lab-sys-module",
              f"{r}/sys/module")

    for sub, target in [("etc", "/etc"), ("home", "/root"), ("bin", "/usr/local/bin"),
                        ("rancher", "/var/lib/rancher")]:
        _bind(os.path.join(hostdir, sub), r + target)

    mount("-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "lab-run", f"{r}/run")
    for d in ("sshd", "lock", "lock/qemu-server", "k3s-homelab-lab"):
        os.makedirs(f"{r}/run/{d}", exist_ok=True)
    os.chmod(f"{r}/run/sshd", 0o755)
    mount("--bind", shareddir, f"{r}{SHARED_MOUNT}")
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "lab-tmp", f"{r}/tmp")

    # Hide the repository (and the lab's own state) from the test host.
    top = labdir.strip("/").split("/")[0]
    hide = f"/{top}" if top not in SYSTEM_TOP_DIRS else os.path.dirname(labdir)
    if os.path.isdir(r + hide) and hide not in ("/tmp", "/root"):
        mount("-t", "tmpfs", "-o", "ro,mode=755", "lab-hidden", r + hide)

    # systemctl (and reboot/poweroff/halt/shutdown, which link to it) go to the stand-in.
    _replace_with_link(r, "/usr/bin/systemctl", "/usr/local/bin/systemctl")
    for path in REFUSED:
        if os.path.lexists(r + path):
            _replace_with_link(r, path, f"{SHARED_MOUNT}/bin/lab-refuse")

    # Machine-only clients a real node does not have (K3s links its own kubectl/crictl/ctr).
    if host["kind"] == "guest":
        for path in MACHINE_ONLY:
            if os.path.lexists(r + path):
                os.unlink(r + path)

    os.makedirs(f"{r}/.lab-oldroot", exist_ok=True)
    os.chdir(r)
    subprocess.run(["pivot_root", ".", ".lab-oldroot"], check=True)
    os.chdir("/")
    subprocess.run(["umount", "-l", "/.lab-oldroot"], check=True)
    os.rmdir("/.lab-oldroot")
    return seed
