import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { parse, stringify } from "yaml";
import { Workspace } from "../../lab/stack";

/** Edits the workspace's stack file in place, as an owner edits Pulumi.<stack>.yaml. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function editStack(ws: Workspace, edit: (config: Record<string, any>) => void): void {
  const file = join(ws.dir, `Pulumi.${ws.stackName}.yaml`);
  const doc = parse(readFileSync(file, "utf8")) as { config: Record<string, unknown> };
  edit(doc.config);
  writeFileSync(file, stringify(doc));
}
