// The lab CLI: `up <fixture.yaml>`, `down [--keep-logs]`, `status`.
// Run as root: npx ts-node --transpile-only lab/cli.ts up lab/fixtures/post.yaml
import { down } from "./down";
import { status } from "./status";
import { up } from "./up";

const USAGE = "usage: lab up <fixture.yaml> | lab down [--keep-logs] | lab status";

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (process.getuid?.() !== 0) {
    console.error("lab: must run as root (it creates network and mount namespaces)");
    return 1;
  }
  switch (cmd) {
    case "up": {
      if (rest.length !== 1) break;
      const model = await up(rest[0]);
      console.log(`lab up: ${model.hosts.length} hosts from ${rest[0]}`);
      console.log(status());
      return 0;
    }
    case "down":
      await down({ keepLogs: rest.includes("--keep-logs") });
      return 0;
    case "status":
      console.log(status());
      return 0;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`lab: ${e.message}`);
    process.exit(1);
  },
);
