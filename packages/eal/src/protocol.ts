/** Messages between the main thread and lcore threads (slow path: launch, results, stats). */
export type ToLcore =
  | { type: 'launch'; module: string; exportName: string; arg: unknown }
  | { type: 'collect'; id: number };

export type FromLcore =
  | { type: 'ready'; pinned: boolean; reason?: string }
  | { type: 'done'; value: unknown }
  | { type: 'error'; error: { name: string; message: string; stack?: string } }
  | { type: 'histogram'; id: number; encoded: string };
