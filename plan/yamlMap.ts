import { parse } from "yaml";

/** A config.yaml (or drop-in) text as a key → value map; empty when it is not a YAML mapping. */
export function yamlMap(text: string): Record<string, unknown> {
  try {
    const value: unknown = parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
