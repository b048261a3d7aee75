// Per-host private dirs under <lab>/hosts/<name>/, prepared before the host's supervisor
// mounts them: etc (a copy of the machine's /etc, then seeded), home (root's home with the
// lab client key), bin (/usr/local/bin stand-ins), rancher (/var/lib/rancher), and the
// overlay's upper/work dirs.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { FixtureSpec } from "./fixture";
import { LabHost, LabModel, vmConfig } from "./model";
import { LAB, LAB_SRC, hostDir } from "./paths";
import { run } from "./sh";

const KEYS = path.join(LAB_SRC, "keys");
const STANDINS = path.join(LAB_SRC, "standins");

const STOCK_SYSCTL_CONF = `#
# /etc/sysctl.conf - Configuration file for setting system variables
# See /etc/sysctl.d/ for additional system variables.
# See sysctl.conf (5) for information.
#
`;

function write(file: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
}

/** The committed test-only host key for `name`, or one generated into .lab/keys. */
export function hostKey(name: string): string {
  const committed = path.join(KEYS, `${name}_ed25519`);
  if (fs.existsSync(committed)) return committed;
  const generated = path.join(LAB, "keys", `${name}_ed25519`);
  if (!fs.existsSync(generated)) {
    fs.mkdirSync(path.dirname(generated), { recursive: true });
    run("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      `${name} lab host key`,
      "-f",
      generated,
    ]);
  }
  return generated;
}

function seedEtc(etc: string, host: LabHost, model: LabModel): void {
  fs.mkdirSync(etc, { recursive: true });
  run("cp", ["-a", "/etc/.", etc]);
  write(`${etc}/hostname`, `${host.name}\n`);
  const peers = model.hosts.map((h) => `${h.bridgeAddress}\t${h.name}`).join("\n");
  write(
    `${etc}/hosts`,
    `127.0.0.1\tlocalhost\n127.0.1.1\t${host.name}\n${peers}\n\n` +
      "::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
  );
  write(`${etc}/machine-id`, `${crypto.randomBytes(16).toString("hex")}\n`, 0o444);

  // sshd: the package's stock config, and only the lab's ed25519 host key.
  for (const f of fs.readdirSync(`${etc}/ssh`)) {
    if (f.startsWith("ssh_host_")) fs.rmSync(`${etc}/ssh/${f}`);
  }
  fs.rmSync(`${etc}/ssh/sshd_config.d`, { recursive: true, force: true });
  fs.mkdirSync(`${etc}/ssh/sshd_config.d`);
  fs.copyFileSync("/usr/share/openssh/sshd_config", `${etc}/ssh/sshd_config`);
  const key = hostKey(host.name);
  write(`${etc}/ssh/ssh_host_ed25519_key`, fs.readFileSync(key, "utf8"), 0o600);
  write(`${etc}/ssh/ssh_host_ed25519_key.pub`, fs.readFileSync(`${key}.pub`, "utf8"));

  // sysctl: Debian's stock layout (99-sysctl.conf -> ../sysctl.conf), nothing else.
  fs.rmSync(`${etc}/sysctl.d`, { recursive: true, force: true });
  fs.mkdirSync(`${etc}/sysctl.d`);
  fs.symlinkSync("../sysctl.conf", `${etc}/sysctl.d/99-sysctl.conf`);
  write(`${etc}/sysctl.conf`, STOCK_SYSCTL_CONF);
  fs.rmSync(`${etc}/modprobe.d`, { recursive: true, force: true });
  fs.mkdirSync(`${etc}/modprobe.d`);
}

function seedProxmox(etc: string, host: LabHost, fixture: FixtureSpec): void {
  const node = `${etc}/pve/nodes/${host.name}`;
  fs.mkdirSync(`${node}/qemu-server`, { recursive: true });
  fs.symlinkSync(`nodes/${host.name}/qemu-server`, `${etc}/pve/qemu-server`);
  fs.symlinkSync(`nodes/${host.name}`, `${etc}/pve/local`);
  for (const g of fixture.guests.filter((g) => g.proxmoxHost === host.name)) {
    const conf = vmConfig(g);
    const text = Object.keys(conf)
      .sort()
      .map((k) => `${k}: ${conf[k]}\n`)
      .join("");
    write(`${node}/qemu-server/${g.vmid}.conf`, text, 0o640);
  }
}

/** Create <lab>/hosts/<name>/ for one host. */
export function prepareHost(host: LabHost, model: LabModel, fixture: FixtureSpec): void {
  const dir = hostDir(host.name);
  for (const d of ["root", "upper", "work", "home/.ssh", "bin", "rancher"]) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  fs.chmodSync(`${dir}/home`, 0o700);
  fs.chmodSync(`${dir}/home/.ssh`, 0o700);
  write(`${dir}/home/.ssh/authorized_keys`, fs.readFileSync(`${KEYS}/client.pub`, "utf8"), 0o600);

  const etc = path.join(dir, "etc");
  seedEtc(etc, host, model);
  fs.copyFileSync(`${STANDINS}/systemctl`, `${dir}/bin/systemctl`);
  fs.chmodSync(`${dir}/bin/systemctl`, 0o755);

  let files: Record<string, string>;
  if (host.kind === "proxmox") {
    seedProxmox(etc, host, fixture);
    fs.copyFileSync(`${STANDINS}/qm`, `${dir}/bin/qm`);
    fs.chmodSync(`${dir}/bin/qm`, 0o755);
    files = fixture.proxmoxHosts.find((p) => p.name === host.name)!.files;
  } else {
    const spec = fixture.guests.find((g) => g.name === host.name)!;
    if (spec.timezone) {
      // As timedatectl set-timezone leaves it: a link into the zoneinfo database, and the name.
      fs.rmSync(`${etc}/localtime`, { force: true });
      fs.symlinkSync(`/usr/share/zoneinfo/${spec.timezone}`, `${etc}/localtime`);
      write(`${etc}/timezone`, `${spec.timezone}\n`);
    }
    if (spec.config) write(`${etc}/rancher/k3s/config.yaml`, YAML.stringify(spec.config), 0o600);
    if (host.role === "server") {
      write(
        `${dir}/rancher/k3s/server/token`,
        `K10${"0".repeat(16)}::server:${model.k3s.token}\n`,
        0o600,
      );
    }
    files = spec.files;
  }
  for (const [file, text] of Object.entries(files)) {
    const base = file.startsWith("/etc/") ? etc + file.slice(4) : dir + "/rancher" + file.slice(16);
    write(base, text);
  }
}
