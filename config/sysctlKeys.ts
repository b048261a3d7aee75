/**
 * The sysctl keys whose values `validate` checks against what the kernel's proc handler accepts,
 * each read from the Linux source (torvalds/linux, file and table named per entry). A key not
 * listed here is accepted as it is today: no guessing.
 *
 * A range is a bound every kernel this program can meet enforces: where the real bound depends on
 * the machine (page size, HZ, CPU count), the entry keeps the loosest one or none, so `validate`
 * never refuses a value a guest would take. Guests are 64-bit (`unsigned long` is 64 bits).
 */

/** What each value is converted to: `int` by proc_dointvec*, `ulong` by proc_doulongvec_minmax. */
export type SysctlKind = "int" | "ulong";

export interface KnownSysctl {
  /** The C type the handler converts to; it bounds a value where `min` or `max` is absent. */
  readonly kind: SysctlKind;
  /** How many whitespace-separated values the key holds; default 1. */
  readonly count?: number;
  /** The table's extra1: the smallest value the handler takes. */
  readonly min?: bigint;
  /** The table's extra2: the largest value the handler takes. */
  readonly max?: bigint;
  /** Each value at least the one before it (ipv4_local_port_range refuses a descending range). */
  readonly ascending?: boolean;
  /** The handler that parses the value, as the messages name it. */
  readonly handler: string;
  /** Where the entry was read: upstream file and table or function. */
  readonly source: string;
}

/** The C types' own limits (do_proc_dointvec_conv, strtoul_lenient in kernel/sysctl.c). */
export const KIND_LIMITS: Readonly<Record<SysctlKind, { min: bigint; max: bigint }>> = {
  int: { min: -2147483648n, max: 2147483647n },
  ulong: { min: 0n, max: 18446744073709551615n },
};

export const KNOWN_SYSCTLS: Readonly<Record<string, KnownSysctl>> = {
  // mm/vmscan.c vmscan_sysctl_table: proc_dointvec_minmax, SYSCTL_ZERO..SYSCTL_TWO_HUNDRED
  // (kernel/sysctl.c's vm_table, before it moved, had one_hundred in old kernels).
  "vm.swappiness": {
    kind: "int",
    min: 0n,
    max: 200n,
    handler: "proc_dointvec_minmax",
    source: "mm/vmscan.c vmscan_sysctl_table",
  },
  // mm/page-writeback.c vm_page_writeback_sysctls: dirty_ratio_handler calls
  // proc_dointvec_minmax, SYSCTL_ZERO..SYSCTL_ONE_HUNDRED.
  "vm.dirty_ratio": {
    kind: "int",
    min: 0n,
    max: 100n,
    handler: "proc_dointvec_minmax",
    source: "mm/page-writeback.c vm_page_writeback_sysctls (dirty_ratio_handler)",
  },
  // mm/page-writeback.c vm_page_writeback_sysctls: dirty_background_ratio_handler calls
  // proc_dointvec_minmax, SYSCTL_ZERO..SYSCTL_ONE_HUNDRED.
  "vm.dirty_background_ratio": {
    kind: "int",
    min: 0n,
    max: 100n,
    handler: "proc_dointvec_minmax",
    source: "mm/page-writeback.c vm_page_writeback_sysctls (dirty_background_ratio_handler)",
  },
  // mm/page-writeback.c vm_page_writeback_sysctls: dirty_bytes_handler calls
  // proc_doulongvec_minmax, extra1 dirty_bytes_min = 2 * PAGE_SIZE: 8192 with the smallest
  // (4 KiB) pages, more with larger ones.
  "vm.dirty_bytes": {
    kind: "ulong",
    min: 8192n,
    handler: "proc_doulongvec_minmax",
    source: "mm/page-writeback.c vm_page_writeback_sysctls (dirty_bytes_handler)",
  },
  // mm/page-writeback.c vm_page_writeback_sysctls: dirty_background_bytes_handler calls
  // proc_doulongvec_minmax, extra1 SYSCTL_LONG_ONE.
  "vm.dirty_background_bytes": {
    kind: "ulong",
    min: 1n,
    handler: "proc_doulongvec_minmax",
    source: "mm/page-writeback.c vm_page_writeback_sysctls (dirty_background_bytes_handler)",
  },
  // mm/page-writeback.c vm_page_writeback_sysctls: proc_dointvec_minmax, extra1 SYSCTL_ZERO.
  "vm.dirty_expire_centisecs": {
    kind: "int",
    min: 0n,
    handler: "proc_dointvec_minmax",
    source: "mm/page-writeback.c vm_page_writeback_sysctls",
  },
  // mm/page-writeback.c vm_page_writeback_sysctls: dirty_writeback_centisecs_handler calls plain
  // proc_dointvec (no extra1: a negative value is taken too).
  "vm.dirty_writeback_centisecs": {
    kind: "int",
    handler: "proc_dointvec",
    source: "mm/page-writeback.c vm_page_writeback_sysctls (dirty_writeback_centisecs_handler)",
  },
  // net/core/sysctl_net_core.c netns_core_table: proc_dointvec_minmax, extra1 zero, no extra2.
  "net.core.somaxconn": {
    kind: "int",
    min: 0n,
    handler: "proc_dointvec_minmax",
    source: "net/core/sysctl_net_core.c netns_core_table",
  },
  // net/ipv4/devinet.c ctl_forward_entry: devinet_sysctl_forward calls proc_dointvec.
  "net.ipv4.ip_forward": {
    kind: "int",
    handler: "proc_dointvec",
    source: "net/ipv4/devinet.c ctl_forward_entry (devinet_sysctl_forward)",
  },
  // net/ipv4/sysctl_net_ipv4.c ipv4_net_table: proc_dointvec_jiffies (seconds; its limit,
  // INT_MAX / HZ, depends on the kernel's HZ, so only the int shape is checked).
  "net.ipv4.tcp_keepalive_time": {
    kind: "int",
    handler: "proc_dointvec_jiffies",
    source: "net/ipv4/sysctl_net_ipv4.c ipv4_net_table",
  },
  // net/ipv4/sysctl_net_ipv4.c ipv4_local_port_range: proc_dointvec_minmax on int[2] with
  // ip_local_port_range_min { 1, 1 } and _max { 65535, 65535 }, then -EINVAL if range[1] < range[0].
  "net.ipv4.ip_local_port_range": {
    kind: "int",
    count: 2,
    min: 1n,
    max: 65535n,
    ascending: true,
    handler: "ipv4_local_port_range",
    source: "net/ipv4/sysctl_net_ipv4.c ipv4_net_table (ipv4_local_port_range)",
  },
  // fs/notify/inotify/inotify_user.c inotify_table: proc_dointvec_minmax, extra1 &zero (later
  // kernels: proc_doulongvec_minmax, it_zero..it_int_max, the same 0..INT_MAX).
  "fs.inotify.max_user_watches": {
    kind: "int",
    min: 0n,
    handler: "proc_dointvec_minmax",
    source: "fs/notify/inotify/inotify_user.c inotify_table",
  },
  "fs.inotify.max_user_instances": {
    kind: "int",
    min: 0n,
    handler: "proc_dointvec_minmax",
    source: "fs/notify/inotify/inotify_user.c inotify_table",
  },
  // kernel/sysctl.c fs_table: proc_doulongvec_minmax, &zero_ul..&long_max (LONG_MAX).
  "fs.file-max": {
    kind: "ulong",
    min: 0n,
    max: 9223372036854775807n,
    handler: "proc_doulongvec_minmax",
    source: "kernel/sysctl.c fs_table",
  },
  // kernel/sysctl.c kern_table (kernel/pid.c pid_table in later kernels): proc_dointvec_minmax,
  // &pid_max_min..&pid_max_max. kernel/pid.c: pid_max_min = RESERVED_PIDS + 1 = 301 (raised at
  // boot to PIDS_PER_CPU_MIN per CPU), pid_max_max = PID_MAX_LIMIT, which
  // include/linux/threads.h makes 4 * 1024 * 1024 where sizeof(long) > 4.
  "kernel.pid_max": {
    kind: "int",
    min: 301n,
    max: 4194304n,
    handler: "proc_dointvec_minmax",
    source: "kernel/sysctl.c kern_table, kernel/pid.c, include/linux/threads.h",
  },
};
