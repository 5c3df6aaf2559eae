/**
 * @bypass/eal: the environment layer (issue 4): init and arguments, memzones, lcores on
 * worker_threads with remote launch and wait, timers, clock, logging, affinity, adaptive
 * polling, per-lcore stats and latency histograms. Nothing is exported yet.
 */
export {};
