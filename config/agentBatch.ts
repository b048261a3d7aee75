import { z } from "zod";

/** What `cluster.roll.agentBatch` accepts, worded for the message naming the bad value. */
const RULE = "a whole number of agents (1 or more) or a percentage of them from `1%` to `100%`";
const PERCENT = /^(100|[1-9][0-9]?)%$/;

/** `cluster.roll.agentBatch`: how many agents roll at once, as a count or as `"20%"`. */
export const AgentBatch = z
  .union([z.number(), z.string()], { error: `must be ${RULE}, such as \`2\` or \`"20%"\`` })
  .superRefine((value, ctx) => {
    const ok =
      typeof value === "number" ? Number.isInteger(value) && value >= 1 : PERCENT.test(value);
    if (!ok)
      ctx.addIssue({
        code: "custom",
        message: `\`${String(value)}\` is not ${RULE}, such as \`2\` or \`"20%"\``,
      });
  });
export type AgentBatch = z.infer<typeof AgentBatch>;

/** How many agents roll together: a count as given, a percentage of `agents` rounded up; never
 * fewer than 1 nor more than there are agents. */
export function agentBatchSize(setting: AgentBatch, agents: number): number {
  const wanted =
    typeof setting === "number"
      ? setting
      : Math.ceil((agents * Number(setting.slice(0, -1))) / 100);
  return Math.max(1, Math.min(wanted, agents));
}
