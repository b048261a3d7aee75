// A Proxmox test host with root on ZFS: kernels in /boot, each with a real initramfs (a zstd
// newc cpio archive, as Debian's initramfs-tools makes), and Debian's own update-initramfs,
// lsinitramfs, unmkinitramfs, cpio and linux-version installed into the host's overlay. Only
// mkinitramfs is a stand-in (lab/standins/mkinitramfs): the real one needs the kernel's modules.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Where lab/install-deps.sh unpacks the Debian packages (dpkg-deb -x, no maintainer scripts). */
export const INITRAMFS_TOOLS = path.join(os.homedir(), ".cache", "k3s-homelab", "initramfs-tools");

/** Files of the unpacked packages, and where they go in a host (merged /usr: /bin is usr/bin). */
const TOOLS: readonly [string, string][] = [
  ["bin/cpio", "usr/bin/cpio"],
  ["usr/bin/lsinitramfs", "usr/bin/lsinitramfs"],
  ["usr/bin/unmkinitramfs", "usr/bin/unmkinitramfs"],
  ["usr/sbin/update-initramfs", "usr/sbin/update-initramfs"],
  ["usr/bin/linux-version", "usr/bin/linux-version"],
  ["usr/share/perl5/DebianLinux.pm", "usr/share/perl5/DebianLinux.pm"],
];

function need(file: string): string {
  const p = path.join(INITRAMFS_TOOLS, file);
  if (!fs.existsSync(p)) {
    throw new Error(`${p} is missing: run lab/install-deps.sh (it unpacks initramfs-tools there)`);
  }
  return p;
}

/** Packs `dir` as the host's initramfs-tools would: `find . | cpio -o -H newc | zstd`. */
function packImage(dir: string, out: string): void {
  const script = 'cd "$1" && find . | LC_ALL=C sort | "$2" -o -H newc --quiet | zstd -q -19 > "$3"';
  const run = spawnSync("sh", ["-c", script, "sh", dir, need("bin/cpio"), out], {
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin" },
  });
  if (run.status !== 0) throw new Error(`packing ${out}: ${run.stderr}`);
}

/**
 * Seeds a host's overlay upper dir: the tools, and for each kernel `/boot/vmlinuz-R` (a stand-in
 * file: nothing boots it) and `/boot/initrd.img-R` holding the host's `/etc/modprobe.d/*.conf` as
 * they were before the program ran (mkinitramfs copies them, lines 406-410).
 */
export function seedRootOnZfs(
  upper: string,
  kernels: readonly string[],
  modprobeFiles: Readonly<Record<string, string>>,
): void {
  for (const [from, to] of TOOLS) {
    const dst = path.join(upper, to);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(need(from), dst);
    fs.chmodSync(dst, to.endsWith(".pm") ? 0o644 : 0o755);
  }
  const boot = path.join(upper, "boot");
  fs.mkdirSync(boot, { recursive: true });
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-homelab-initrd-"));
  try {
    for (const release of kernels) {
      fs.writeFileSync(path.join(boot, `vmlinuz-${release}`), `lab: kernel ${release}\n`);
      const root = path.join(stage, release);
      fs.mkdirSync(path.join(root, "etc", "modprobe.d"), { recursive: true });
      fs.mkdirSync(path.join(root, "lib", "modules", release), { recursive: true });
      fs.writeFileSync(path.join(root, "lib", "modules", release, "modules.dep"), "");
      for (const [name, text] of Object.entries(modprobeFiles)) {
        fs.writeFileSync(path.join(root, "etc", "modprobe.d", name), text);
      }
      packImage(root, path.join(boot, `initrd.img-${release}`));
    }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}
