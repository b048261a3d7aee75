// Kubernetes' CA pairs as K3s makes them once per cluster (k3s-io/k3s
// pkg/daemons/control/deps/deps.go: `genClientCerts` client-ca, `genServerCerts` server-ca,
// `genRequestHeaderCerts` request-header-ca, CN k3s-<name>@<unix>; `genServiceAccount`
// service.key, RSA 2048), made at `lab up` into the shared dir: K3s's bootstrap data carries them
// to every server. Each server's k3s stand-in copies them into <data-dir>/server/tls/ at its
// first start and issues its own leaf pairs there (lab/runtime/labkube.py).
import * as fs from "fs";
import * as path from "path";
import { ca } from "./etcdTls";
import { run } from "./sh";

export const KUBE_CA_DIR = "kube-ca";

export function makeKubeCAs(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = Math.floor(Date.now() / 1000);
  for (const name of ["client-ca", "server-ca", "request-header-ca"]) {
    ca(dir, name, `k3s-${name}@${now}`);
    fs.chmodSync(path.join(dir, `${name}.key`), 0o600);
  }
  run("openssl", ["genrsa", "-out", path.join(dir, "service.key"), "2048"]);
  fs.chmodSync(path.join(dir, "service.key"), 0o600);
}
