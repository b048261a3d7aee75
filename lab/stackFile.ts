// A Pulumi stack file that points the program at the test hosts of a lab fixture (what
// Pulumi.lab.yaml is, by hand, for lab/fixtures/post.yaml).
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { stringify } from "yaml";
import { GuestSpec, loadFixture } from "./fixture";
import { hostKey } from "./hostfiles";
import { bridgeAddress } from "./model";
import { REPO } from "./run";

function publicKey(name: string): string {
  return readFileSync(`${hostKey(name)}.pub`, "utf8")
    .split(" ")
    .slice(0, 2)
    .join(" ");
}

/** A guest's install-time flags (`--key=value`, `--flag`) as node config, as an owner carries
 * them into the stack; a repeated flag becomes a list. */
export function installArgsAsConfig(args: readonly string[]): Record<string, string | string[]> {
  const config: Record<string, string | string[]> = {};
  for (const arg of args) {
    const [key, value = "true"] = arg.replace(/^--?/, "").split(/=(.*)/s);
    const before = config[key];
    config[key] = before === undefined ? value : [...([] as string[]).concat(before), value];
  }
  return config;
}

/** What a guest runs with that the stack must carry: its install-time flags, and the
 * `cluster-init: true` of the server that started etcd (its config.yaml's; the stack keeps it,
 * so that server gets no `server:` line). */
export function stackNodeConfig(g: GuestSpec): { config?: Record<string, unknown> } {
  const config: Record<string, unknown> = {
    ...(g.config?.["cluster-init"] === true ? { "cluster-init": true } : {}),
    ...installArgsAsConfig(g.installArgs),
  };
  return Object.keys(config).length > 0 ? { config } : {};
}

/** Writes .state/stack-files/Pulumi.NAME.yaml for the fixture and returns its path. Host keys
 * come from lab/keys or, for hosts without a committed key, the ones `lab up` generated. */
export function stackFileForFixture(
  name: string,
  fixtureFile: string,
  cluster: Record<string, unknown> = {},
): string {
  const fixture = loadFixture(fixtureFile);
  const firstServer = fixture.guests.find((g) => g.role === "server")!;
  const config = {
    "k3s-homelab:cluster": {
      k3sVersion: fixture.k3s.stableVersion,
      registrationAddress: `https://${bridgeAddress(firstServer.address)}:6443`,
      serverConfig: {},
      installerUrl: `http://127.0.0.1:${fixture.installerPort}/install.sh`,
      gateTimeoutSeconds: 120,
      rollOrder: fixture.guests.map((g) => g.name),
      ...cluster,
    },
    "k3s-homelab:hosts": Object.fromEntries(
      fixture.proxmoxHosts.map((h) => [h.name, { address: h.address, hostKey: publicKey(h.name) }]),
    ),
    "k3s-homelab:nodes": Object.fromEntries(
      fixture.guests.map((g) => [
        g.name,
        {
          host: g.proxmoxHost,
          vmid: g.vmid,
          disk: "scsi0",
          address: g.address,
          role: g.role,
          hostKey: publicKey(g.name),
          ...stackNodeConfig(g),
        },
      ]),
    ),
  };
  const dir = join(REPO, ".state", "stack-files");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `Pulumi.${name}.yaml`);
  writeFileSync(file, stringify({ config }));
  return file;
}
