import * as assert from "assert";
import { existsSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";

const GOLDEN_DIR = join(__dirname, "..", "golden");

/**
 * Compares rendered text with test/golden/NAME exactly. `UPDATE_GOLDEN=1 npm run test:unit`
 * rewrites the files; review the diff before committing it.
 */
export function assertGolden(name: string, actual: string): void {
  const file = join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, actual);
  assert.ok(
    existsSync(file),
    `missing golden file ${file}: run with UPDATE_GOLDEN=1 and review it`,
  );
  assert.strictEqual(actual, readFileSync(file, "utf8"), `${name} differs from its golden file`);
}
