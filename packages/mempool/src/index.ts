/**
 * @bypass/mempool: fixed-size object pools with per-lcore caches, and the mbuf layout and
 * accessors (issue 3). Nothing is exported yet.
 */
export {};
