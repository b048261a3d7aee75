// etcd's certificates as K3s lays them out (k3s-io/k3s pkg/daemons/control/deps/deps.go,
// `genETCDCerts`): under <data-dir>/server/tls/etcd/ the two CA pairs `server-ca` and `peer-ca`
// (CN etcd-server-ca@<unix>, etcd-peer-ca@<unix>; one pair for the whole cluster, as K3s's
// bootstrap data shares them), and per server `server-client` (CN etcd-server, server+client
// auth), `client` (CN etcd-client, client auth) and `peer-server-client` (CN etcd-peer, server+
// client auth), each .crt holding the leaf followed by its CA, ECDSA P-256 keys (certutil).
// Made with openssl at `lab up`, in the root namespace.
import * as fs from "fs";
import * as path from "path";
import { GuestHost } from "./model";
import { run } from "./sh";

/** In the shared dir: the server CA and a client pair for the lab's own tools (status, selftest,
 * the agents' stand-in heartbeats). Real agents have no etcd certificates at all. */
export const LAB_CLIENT_DIR = "etcd-client";

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A self-signed CA pair `<dir>/<name>.crt|.key` (ECDSA P-256, as certutil makes them). */
export function ca(dir: string, name: string, cn: string): void {
  run("openssl", [
    "req",
    "-x509",
    ...KEY,
    "-keyout",
    path.join(dir, `${name}.key`),
    "-out",
    path.join(dir, `${name}.crt`),
    "-days",
    "3650",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
  ]);
}

function leaf(
  dir: string,
  caDir: string,
  caName: string,
  name: string,
  cn: string,
  usage: string,
  sans: string[],
): void {
  const key = path.join(dir, `${name}.key`);
  const csr = run("openssl", ["req", "-new", ...KEY, "-keyout", key, "-subj", `/CN=${cn}`]);
  const ext = path.join(dir, `.${name}.ext`);
  const lines = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage=${usage}`,
  ];
  if (sans.length) lines.push(`subjectAltName=${sans.join(",")}`);
  fs.writeFileSync(ext, lines.join("\n") + "\n");
  const cert = run(
    "openssl",
    [
      "x509",
      "-req",
      "-CA",
      path.join(caDir, `${caName}.crt`),
      "-CAkey",
      path.join(caDir, `${caName}.key`),
      "-set_serial",
      `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`,
      "-days",
      "365",
      "-extfile",
      ext,
    ],
    csr,
  );
  fs.rmSync(ext);
  const chain = cert + fs.readFileSync(path.join(caDir, `${caName}.crt`), "utf8");
  fs.writeFileSync(path.join(dir, `${name}.crt`), chain, { mode: 0o644 });
  fs.chmodSync(key, 0o600);
}

/** The cluster's two CA pairs, made once into `dir`. */
export function makeEtcdCAs(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = Math.floor(Date.now() / 1000);
  ca(dir, "server-ca", `etcd-server-ca@${now}`);
  ca(dir, "peer-ca", `etcd-peer-ca@${now}`);
}

/** A server's tls/etcd dir: the shared CAs and its own three leaf pairs. */
export function issueServerCerts(tlsDir: string, caDir: string, g: GuestHost): void {
  fs.mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  for (const f of ["server-ca.crt", "server-ca.key", "peer-ca.crt", "peer-ca.key"]) {
    fs.copyFileSync(path.join(caDir, f), path.join(tlsDir, f));
    fs.chmodSync(path.join(tlsDir, f), f.endsWith(".key") ? 0o600 : 0o644);
  }
  // K3s's SANs: config.SANs (loopbacks, localhost, the node's name and addresses). The
  // root-side address is there as a `tls-san` would be, for `lab status` through the forwarder.
  const sans = [
    "DNS:localhost",
    `DNS:${g.name}`,
    "IP:127.0.0.1",
    "IP:::1",
    `IP:${g.bridgeAddress}`,
    `IP:${g.address}`,
  ];
  const both = "serverAuth,clientAuth";
  leaf(tlsDir, caDir, "server-ca", "server-client", "etcd-server", both, sans);
  leaf(tlsDir, caDir, "server-ca", "client", "etcd-client", "clientAuth", []);
  leaf(tlsDir, caDir, "peer-ca", "peer-server-client", "etcd-peer", both, sans);
}

/** The lab's own client pair (shared dir), signed by the server CA. */
export function issueLabClient(dir: string, caDir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.copyFileSync(path.join(caDir, "server-ca.crt"), path.join(dir, "server-ca.crt"));
  leaf(dir, caDir, "server-ca", "client", "etcd-client", "clientAuth", []);
}
