// Where the lab keeps its state: <repo>/.lab (gitignored).
import * as path from "path";

export const REPO = path.resolve(__dirname, "..");
export const LAB_SRC = __dirname;

export const LAB = path.join(REPO, ".lab");
export const SHARED = path.join(LAB, "shared");
export const HOSTS = path.join(LAB, "hosts");
export const LOGS = path.join(SHARED, "logs");
export const EVENTS = path.join(SHARED, "events.jsonl");
export const RUN_FILE = path.join(LAB, "run.json");

export const hostDir = (name: string): string => path.join(HOSTS, name);
export const ctlSocket = (name: string): string => path.join(SHARED, "ctl", `${name}.sock`);
export const netnsName = (name: string): string => `hl-${name}`;
export const SWITCH_NETNS = "hl-switch";
