import { z } from "zod";

/** A config error or warning, worded for the homelab owner: who, which field, what is wrong. */
export type Problem = string;

/** Thrown when the stack config is invalid; `problems` lists every problem, one line each. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly Problem[]) {
    super(`invalid stack config:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** `node \`k3s-vm-pve\``, `host \`pve\`` or `cluster` for a path into the stack config. */
export function subject(path: readonly PropertyKey[]): { who: string; field: string } {
  const [section, name, ...rest] = path.map(String);
  if (path.length === 1 && section !== "cluster") {
    return { who: "stack config", field: `k3s-homelab:${section}` };
  }
  if ((section === "nodes" || section === "hosts") && name !== undefined) {
    return { who: `${section === "nodes" ? "node" : "host"} \`${name}\``, field: rest.join(".") };
  }
  if (section === "cluster")
    return { who: "cluster", field: [name, ...rest].filter(Boolean).join(".") };
  return { who: "stack config", field: path.map(String).join(".") };
}

export function problemAt(path: readonly PropertyKey[], message: string): Problem {
  const { who, field } = subject(path);
  return field ? `${who}, \`${field}\`: ${message}` : `${who}: ${message}`;
}

/** One line per zod issue, naming the node or host and the field. */
export function zodProblems(error: z.ZodError): Problem[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => problemAt(issue.path, `unknown key \`${key}\``));
    }
    if (issue.code === "invalid_key") {
      const inner = issue.issues.map((i) => i.message).join("; ");
      return [problemAt(issue.path, `bad name: ${inner}`)];
    }
    // zod 4 leaves `input` out of issues (reportInput is off), so a wrong type reads as missing
    // unless the message says what was received.
    if (issue.code === "invalid_type" && / received undefined$/.test(issue.message)) {
      if (issue.path.length === 1)
        return [`stack config: \`k3s-homelab:${String(issue.path[0])}\` is not set`];
      return [problemAt(issue.path, "is required")];
    }
    return [problemAt(issue.path, issue.message)];
  });
}
