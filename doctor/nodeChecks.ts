import { parse } from "yaml";
import { MUST_MATCH_SERVER_KEYS, NodeSpec } from "../config";
import { Observed } from "../plan/observed";
import { runningVersion } from "../plan/preflight";
import { ApiNode, NodeObservation } from "../probe/observations";
import { Check, check } from "./check";
import { SysctlOverride } from "./readings";

/** Keys whose values are secrets: compared, never printed. */
const SECRET_KEYS = new Set(["token", "agent-token"]);

export function parseConfigYaml(text: string): Record<string, unknown> {
  try {
    const value: unknown = parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A config.yaml value as the report shows it; secrets only as `(set)`. */
export function showConfigValue(key: string, value: unknown): string {
  if (value === undefined) return "unset";
  if (SECRET_KEYS.has(key)) return "(set)";
  return Array.isArray(value) ? `[${value.join(", ")}]` : String(value);
}

function cordonNote(cordoned: ApiNode["cordoned"]): string {
  if (cordoned === "by-roll") return ", cordoned by a roll whose gate did not pass";
  if (cordoned === "by-hand") return ", cordoned";
  return "";
}

/** K3s version, service and readiness as the API reports them. */
export function k3sChecks(node: NodeSpec, own: NodeObservation, observed: Observed): Check[] {
  const running = runningVersion(node, observed);
  const fromApi = [...observed.nodes.values()].some(
    (o) => !("unreachable" in o) && o.apiNodes?.some((n) => n.name === node.nodeName),
  );
  const source = fromApi ? "API" : "installed binary; no API answer";
  const installedNote =
    fromApi && own.installedVersion && own.installedVersion !== running
      ? `, installed ${own.installedVersion} (restart owed)`
      : "";
  const checks = [
    check(
      "k3s version",
      running ? `${running} (${source}${installedNote})` : "not installed",
      node.k3sVersion,
      running === node.k3sVersion && installedNote === "" ? "ok" : running ? "warn" : "fail",
    ),
    check(
      "k3s service",
      own.service ? `${own.service.unit} active since ${own.service.since}` : "not active",
      node.role === "server" ? "k3s active" : "k3s-agent active",
      own.service ? "ok" : "fail",
    ),
  ];
  const api = [...observed.nodes.values()]
    .map((o) =>
      "unreachable" in o ? undefined : o.apiNodes?.find((n) => n.name === node.nodeName),
    )
    .find((n) => n !== undefined);
  checks.push(
    check(
      "node ready (API)",
      api ? `Ready=${api.ready}${cordonNote(api.cordoned)}` : "not known to any server's API",
      "Ready=True",
      api?.ready !== "True" ? "fail" : api.cordoned ? "warn" : "ok",
    ),
  );
  return checks;
}

/** Must-match keys of a server's config.yaml against the one the program writes. */
export function mustMatchCheck(liveYaml: string, desiredYaml: string): Check {
  const live = parseConfigYaml(liveYaml);
  const want = parseConfigYaml(desiredYaml);
  const differing = MUST_MATCH_SERVER_KEYS.filter(
    (k) => JSON.stringify(live[k]) !== JSON.stringify(want[k]),
  );
  const desiredText =
    MUST_MATCH_SERVER_KEYS.filter((k) => want[k] !== undefined)
      .map((k) => `${k}: ${showConfigValue(k, want[k])}`)
      .join("; ") || "none set (K3s defaults)";
  if (differing.length === 0)
    return check("config.yaml must-match keys", "as desired", desiredText, "ok");
  // The program writes `token-file` instead of `token`: say so rather than just "unset".
  const wanted = (k: string) =>
    want[k] === undefined && want[`${k}-file`] !== undefined
      ? `unset, ${k}-file instead`
      : showConfigValue(k, want[k]);
  const value = differing
    .map((k) => `${k}: ${showConfigValue(k, live[k])} (want ${wanted(k)})`)
    .join("; ");
  return check("config.yaml must-match keys", value, desiredText, "warn", {
    differing: differing.join(","),
  });
}

/** Live sysctl values against the stack's, and keys that a later file sets again. */
export function sysctlChecks(
  desired: Readonly<Record<string, string>>,
  live: Readonly<Record<string, string>>,
  overrides: readonly SysctlOverride[],
): Check[] {
  const checks = Object.entries(desired).map(([key, want]) => {
    const have = live[key];
    return check(
      `sysctl ${key}`,
      have === undefined || have === "" ? "unreadable" : have,
      want,
      have === want ? "ok" : "warn",
    );
  });
  const relevant = overrides.filter((o) => o.key in desired);
  if (relevant.length === 0) {
    checks.push(check("sysctl overrides", "none", "no later file sets these keys", "ok"));
  }
  for (const o of relevant) {
    const same = o.value === desired[o.key];
    checks.push(
      check(
        `sysctl override ${o.key}`,
        `${o.value} in ${o.file} (applied after 99-etcd.conf at boot)`,
        same ? `${desired[o.key]} (same value: harmless)` : `no later file sets it`,
        same ? "ok" : "warn",
      ),
    );
  }
  return checks;
}
