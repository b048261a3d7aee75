// Helpers for the e2e tests; the lab-facing parts live in lab/ (shared with the demo and the
// benchmark).
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { parse, stringify } from "yaml";
import { REPO } from "../../lab/run";

export * from "../../lab/run";
export * from "../../lab/session";
export * from "../../lab/stack";

/** The e2e tests need root (namespaces) and the engine. Outside CI they are skipped with the
 * reason when root is missing; under CI (CI=true) that is a failure, never a skip. */
export function requireLabMachine(context: Mocha.Context): void {
  const isRoot = process.getuid?.() === 0;
  if (isRoot) return;
  if (process.env.CI === "true") throw new Error("e2e tests need root for the lab's namespaces");
  console.log("    (skipped: the lab needs root)");
  context.skip();
}

/** A YAML document a test edits freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

/** A copy of a stack file with some cluster settings changed, for one test. */
export function stackFileWith(name: string, edit: (config: Doc) => void): string {
  const doc = parse(readFileSync(join(REPO, "Pulumi.lab.yaml"), "utf8")) as {
    config: Doc;
  };
  edit(doc.config);
  const dir = join(REPO, ".state", "stack-files");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `Pulumi.${name}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

/** A copy of a lab fixture with some guests changed, for one test. */
export function fixtureWith(name: string, edit: (fixture: Doc) => void): string {
  const doc = parse(readFileSync(join(REPO, "lab", "fixtures", "post.yaml"), "utf8")) as Doc;
  edit(doc);
  const dir = join(REPO, ".state", "fixtures");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}
