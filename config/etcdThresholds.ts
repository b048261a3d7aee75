/** etcd's guidance for its WAL fsync (and the post's lesson 3): p99 under 10 ms; above 100 ms a
 * member misses heartbeats and elections follow. The doctor judges by these; the roll's fsync
 * gate holds a server's roll above the fail threshold (`cluster.roll.maxFsyncP99Ms`). On the
 * ground floor, so that the config and the scripts sent to machines use the doctor's numbers. */
export const WAL_FSYNC_P99_WARN_MS = 10;
export const WAL_FSYNC_P99_FAIL_MS = 100;

/** Fewer syncs than this in a window say little about its p99. */
export const MIN_WINDOW_OBSERVATIONS = 20;
