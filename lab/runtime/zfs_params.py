"""Fake ZFS module parameters on Proxmox test hosts (/sys/module/zfs/parameters on a tmpfs)."""
import glob
import os

PARAM_DIR = "/sys/module/zfs/parameters"
MODPROBE_DIRS = ["/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
                 "/usr/lib/modprobe.d", "/lib/modprobe.d"]


def modprobe_options():
    """zfs options from modprobe config, later files and later options winning (as at load)."""
    chosen = {}
    for d in MODPROBE_DIRS:
        for path in sorted(glob.glob(os.path.join(d, "*.conf"))):
            chosen.setdefault(os.path.basename(path), path)
    opts = {}
    for name in sorted(chosen):
        try:
            with open(chosen[name]) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            words = line.split("#", 1)[0].split()
            if len(words) >= 3 and words[0] == "options" and words[1] == "zfs":
                for kv in words[2:]:
                    if "=" in kv:
                        k, v = kv.split("=", 1)
                        opts[k] = v
    return opts


def load_module(defaults, root="/sys/module"):
    """(Re)create /sys/module/zfs/parameters as the module would load at boot."""
    params = dict(defaults)
    params.update({k: v for k, v in modprobe_options().items() if k in params})
    pdir = os.path.join(root, "zfs", "parameters")
    os.makedirs(pdir, exist_ok=True)
    for k, v in params.items():
        with open(os.path.join(pdir, k), "w") as f:
            f.write(f"{v}\n")
    return params
