import * as assert from "assert";
import { readFileSync } from "fs";
import { join } from "path";
import { buildClusterSpec, ConfigError } from "../../config";
import { KIND_LIMITS, KNOWN_SYSCTLS } from "../../config/sysctlKeys";
import { kernelInteger } from "../../config/sysctlValues";
import { validRaw } from "./fixtures";

/** The problems buildClusterSpec reports with these cluster and k3s-vm-fawn sysctl maps. */
function problemsWith(
  cluster: Record<string, unknown>,
  fawn: Record<string, unknown> = {},
): readonly string[] {
  const raw = validRaw();
  raw.cluster.sysctl = cluster;
  raw.nodes["k3s-vm-fawn"].sysctl = fawn;
  try {
    buildClusterSpec(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("config: sysctl values against the kernel's proc handlers", () => {
  it("reads integers as the kernel's proc_get_long does (decimal, 0x hex, leading-0 octal)", () => {
    assert.deepStrictEqual(["10", "-5", "0", "0x1F", "017", "-0"].map(kernelInteger), [
      10n,
      -5n,
      0n,
      31n,
      15n,
      0n,
    ]);
    assert.deepStrictEqual(["ten", "09", "+5", "0x", "1.5", "", "5k"].map(kernelInteger), [
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("refuses a word where the kernel wants an integer, per node and for the cluster", () => {
    assert.deepStrictEqual(problemsWith({ "vm.dirty_ratio": "five" }, { "vm.swappiness": "ten" }), [
      "cluster, `sysctl.vm.dirty_ratio`: `five` is not an integer (the kernel's proc_dointvec_minmax accepts 0..100)",
      "node `k3s-vm-fawn`, `sysctl.vm.swappiness`: `ten` is not an integer (the kernel's proc_dointvec_minmax accepts 0..200)",
    ]);
  });

  it("refuses a value outside the table's range, accepts its bounds", () => {
    assert.deepStrictEqual(
      problemsWith({
        "vm.swappiness": 201,
        "vm.dirty_background_ratio": -1,
        "vm.dirty_bytes": 8191,
        "vm.dirty_background_bytes": 0,
        "kernel.pid_max": 4194305,
        "net.core.somaxconn": -1,
      }),
      [
        "cluster, `sysctl.vm.swappiness`: `201` is out of range (the kernel's proc_dointvec_minmax accepts 0..200)",
        "cluster, `sysctl.vm.dirty_background_ratio`: `-1` is out of range (the kernel's proc_dointvec_minmax accepts 0..100)",
        "cluster, `sysctl.vm.dirty_bytes`: `8191` is out of range (the kernel's proc_doulongvec_minmax accepts 8192..18446744073709551615)",
        "cluster, `sysctl.vm.dirty_background_bytes`: `0` is out of range (the kernel's proc_doulongvec_minmax accepts 1..18446744073709551615)",
        "cluster, `sysctl.kernel.pid_max`: `4194305` is out of range (the kernel's proc_dointvec_minmax accepts 301..4194304)",
        "cluster, `sysctl.net.core.somaxconn`: `-1` is out of range (the kernel's proc_dointvec_minmax accepts 0..2147483647)",
      ],
    );
    assert.deepStrictEqual(
      problemsWith({
        "vm.swappiness": 200,
        "vm.dirty_ratio": 0,
        "vm.dirty_bytes": 8192,
        "vm.dirty_background_bytes": 1,
        "kernel.pid_max": 4194304,
        "vm.dirty_writeback_centisecs": -1,
        "net.ipv4.ip_forward": "-2147483648",
        "fs.file-max": "9223372036854775807",
      }),
      [],
    );
  });

  it("bounds a key without a table range by its C type", () => {
    assert.deepStrictEqual(
      problemsWith({ "net.ipv4.ip_forward": "2147483648", "fs.file-max": "9223372036854775808" }),
      [
        "cluster, `sysctl.net.ipv4.ip_forward`: `2147483648` is out of range (the kernel's proc_dointvec accepts -2147483648..2147483647)",
        "cluster, `sysctl.fs.file-max`: `9223372036854775808` is out of range (the kernel's proc_doulongvec_minmax accepts 0..9223372036854775807)",
      ],
    );
  });

  it("takes ip_local_port_range as two ascending ports", () => {
    const range = (value: string) => problemsWith({ "net.ipv4.ip_local_port_range": value });
    const accepts =
      "(the kernel's ipv4_local_port_range accepts 2 integers of 1..65535, the first not above the second)";
    assert.deepStrictEqual(
      ["1024", "1024 65000 3", "1024 high", "0 65000", "65000 1024"].map(range),
      [
        [
          `cluster, \`sysctl.net.ipv4.ip_local_port_range\`: \`1024\` is not 2 integers separated by a space ${accepts}`,
        ],
        [
          `cluster, \`sysctl.net.ipv4.ip_local_port_range\`: \`1024 65000 3\` is not 2 integers separated by a space ${accepts}`,
        ],
        [
          `cluster, \`sysctl.net.ipv4.ip_local_port_range\`: \`1024 high\` is not 2 integers separated by a space ${accepts}`,
        ],
        [
          `cluster, \`sysctl.net.ipv4.ip_local_port_range\`: \`0 65000\`: \`0\` is out of range ${accepts}`,
        ],
        [
          `cluster, \`sysctl.net.ipv4.ip_local_port_range\`: \`65000 1024\` is a descending range ${accepts}`,
        ],
      ],
    );
    assert.deepStrictEqual(["1024 65000", "1024 1024"].map(range), [[], []]);
  });

  it("refuses one integer followed by another for a one-value key", () => {
    assert.deepStrictEqual(problemsWith({ "vm.swappiness": "10 20" }), [
      "cluster, `sysctl.vm.swappiness`: `10 20` is not an integer (the kernel's proc_dointvec_minmax accepts 0..200)",
    ]);
  });

  it("refuses hex and octal spellings: the kernel prints them back in decimal", () => {
    assert.deepStrictEqual(
      problemsWith(
        { "vm.dirty_ratio": "010", "kernel.pid_max": "0x10000" },
        { "vm.swappiness": "-0" },
      ),
      [
        "cluster, `sysctl.vm.dirty_ratio`: `010` is read by the kernel as 8 and printed back as 8, so the read-back after `sysctl -p` never matches; write 8",
        "cluster, `sysctl.kernel.pid_max`: `0x10000` is read by the kernel as 65536 and printed back as 65536, so the read-back after `sysctl -p` never matches; write 65536",
        "node `k3s-vm-fawn`, `sysctl.vm.swappiness`: `-0` is read by the kernel as 0 and printed back as 0, so the read-back after `sysctl -p` never matches; write 0",
      ],
    );
  });

  it("accepts keys it does not know as they are", () => {
    assert.deepStrictEqual(
      problemsWith({ "net.ipv4.tcp_congestion_control": "bbr" }, { "vm.max_map_count": 262144 }),
      [],
    );
  });

  it("refuses a YAML number that has lost digits (above 2^53); quoted, it is checked exactly", () => {
    assert.deepStrictEqual(problemsWith({ "fs.file-max": 2 ** 63 }), [
      "cluster, `sysctl.fs.file-max`: is a YAML number above 2^53, which loses its last digits; quote it",
    ]);
    assert.deepStrictEqual(problemsWith({ "fs.file-max": "9223372036854775807" }), []);
  });

  it("keeps every table range inside its C type and names where it was read", () => {
    for (const [key, known] of Object.entries(KNOWN_SYSCTLS)) {
      const limits = KIND_LIMITS[known.kind];
      const min = known.min ?? limits.min;
      const max = known.max ?? limits.max;
      assert.ok(limits.min <= min && min <= max && max <= limits.max, `${key}: ${min}..${max}`);
      assert.match(known.source, /^(mm|net|fs|kernel)\/\S+\.c /, key);
    }
  });

  it("is the list of keys the README gives for validate", () => {
    const readme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");
    const listed = Object.keys(KNOWN_SYSCTLS).map((key) =>
      key.startsWith("vm.dirty_") ? "vm.dirty_*" : key,
    );
    for (const key of new Set(listed)) assert.ok(readme.includes(`\`${key}\``), key);
  });
});
