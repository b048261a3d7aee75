import { Problem, problemAt } from "./problems";
import { StackConfig } from "./schema";
import { KIND_LIMITS, KNOWN_SYSCTLS, KnownSysctl } from "./sysctlKeys";

/**
 * One word as kernel/sysctl.c's proc_get_long reads it: an optional `-`, then strtoul with base 0
 * (`0x` hex, a leading `0` octal, else decimal), ended by whitespace or the end of the value.
 * Undefined when the kernel refuses it with -EINVAL.
 */
export function kernelInteger(word: string): bigint | undefined {
  const match = /^(-?)(?:0[xX]([0-9a-fA-F]+)|0([0-7]*)|([1-9][0-9]*))$/.exec(word);
  if (!match) return undefined;
  const [, sign, hex, octal, decimal] = match;
  const magnitude =
    hex !== undefined
      ? BigInt(`0x${hex}`)
      : octal !== undefined
        ? BigInt(`0o${octal || "0"}`)
        : BigInt(decimal);
  return sign ? -magnitude : magnitude;
}

/** `0..200`, or `2 integers of 1..65535, the first not above the second` for a vector. */
function accepted(known: KnownSysctl): string {
  const limits = KIND_LIMITS[known.kind];
  const range = `${known.min ?? limits.min}..${known.max ?? limits.max}`;
  const count = known.count ?? 1;
  if (count === 1) return range;
  const order = known.ascending ? ", the first not above the second" : "";
  return `${count} integers of ${range}${order}`;
}

/**
 * What is wrong with `value` for `key`, or undefined when the kernel's handler takes it (or the
 * key is not in KNOWN_SYSCTLS). Values are compared after `sysctl -p` with what the kernel prints
 * back (decimal), so a hex or octal spelling the kernel would take is refused too.
 */
export function sysctlValueProblem(key: string, value: string): string | undefined {
  const known = KNOWN_SYSCTLS[key];
  if (!known) return undefined;
  const accepts = `(the kernel's ${known.handler} accepts ${accepted(known)})`;
  const count = known.count ?? 1;
  const words = value.split(/\s+/);
  const numbers = words.map(kernelInteger);
  if (words.length !== count || numbers.some((n) => n === undefined)) {
    const shape = count === 1 ? "an integer" : `${count} integers separated by a space`;
    return `\`${value}\` is not ${shape} ${accepts}`;
  }
  const limits = KIND_LIMITS[known.kind];
  const min = known.min ?? limits.min;
  const max = known.max ?? limits.max;
  for (const [i, word] of words.entries()) {
    const n = numbers[i]!;
    const what = count === 1 ? `\`${value}\`` : `\`${value}\`: \`${word}\``;
    if (n < min || n > max) return `${what} is out of range ${accepts}`;
    if (String(n) !== word) {
      return `${what} is read by the kernel as ${n} and printed back as ${n}, so the read-back after \`sysctl -p\` never matches; write ${n}`;
    }
  }
  if (known.ascending && numbers.some((n, i) => i > 0 && n! < numbers[i - 1]!)) {
    return `\`${value}\` is a descending range ${accepts}`;
  }
  return undefined;
}

/** Every known key's value in `cluster.sysctl` and in each node's own `sysctl`, at its path. */
export function checkSysctlValues(config: StackConfig, errors: Problem[]): void {
  const maps: [PropertyKey[], Readonly<Record<string, string>>][] = [
    [["cluster", "sysctl"], config.cluster.sysctl],
    ...Object.entries(config.nodes).map(
      ([name, node]): [PropertyKey[], Readonly<Record<string, string>>] => [
        ["nodes", name, "sysctl"],
        node.sysctl ?? {},
      ],
    ),
  ];
  for (const [path, sysctl] of maps) {
    for (const [key, value] of Object.entries(sysctl)) {
      const problem = sysctlValueProblem(key, value);
      if (problem) errors.push(problemAt([...path, key], problem));
    }
  }
}
