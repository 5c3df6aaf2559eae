/**
 * @bypass/ring: lock-free rings of u32 handles on SharedArrayBuffer (issue 3). Nothing is
 * exported yet.
 */
export {};
