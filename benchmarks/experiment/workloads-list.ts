// The workload names on their own, so argument parsing (and its test) loads no EAL or app.
export type Workload = 'l2fwd' | 'echo' | 'http';
export const WORKLOADS: readonly Workload[] = ['l2fwd', 'echo', 'http'];
