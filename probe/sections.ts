import { SECTION } from "./scripts";

/** Splits probe output into sections by their `@@ NAME` lines; each text is kept without its
 * leading and trailing blank lines. */
export function splitSections(stdout: string): Map<string, string> {
  const sections = new Map<string, string>();
  let name: string | undefined;
  let body: string[] = [];
  const flush = () => {
    if (name !== undefined) sections.set(name, body.join("\n").replace(/^\n+|\n+$/g, ""));
  };
  for (const line of stdout.split("\n")) {
    if (line.startsWith(`${SECTION} `)) {
      flush();
      name = line.slice(SECTION.length + 1).trim();
      body = [];
    } else if (name !== undefined) body.push(line);
  }
  flush();
  return sections;
}
