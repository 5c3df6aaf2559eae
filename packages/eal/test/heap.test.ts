// --heap-mb: V8's --initial-old-space-size is set while the lcore isolates are created, and put
// back (to what the process was started with) before init() returns.
import { afterEach, describe, expect, it, vi } from 'vitest';

const flags: string[] = [];
vi.mock('node:v8', async (importOriginal) => {
  const v8 = await importOriginal<typeof import('node:v8')>();
  return {
    ...v8,
    setFlagsFromString: (f: string) => {
      flags.push(f);
      v8.setFlagsFromString(f);
    },
  };
});

const { cleanup, init, startupInitialOldSpaceMb } = await import('../src/index.js');

afterEach(async () => {
  await cleanup();
  flags.length = 0;
});

describe('lcore heap (--heap-mb)', () => {
  it('sets the initial old space for the lcores, then puts it back', async () => {
    const r = await init(['-l', '0-2', '--no-pin', '--heap-mb', '96'], { handleSignals: false });
    expect(r.config.heapMb).toBe(96);
    expect(flags).toEqual(['--initial-old-space-size=96', '--initial-old-space-size=0']);
  });

  it('128 MiB by default; 0 leaves V8 alone', async () => {
    await init({ lcores: '0-1', pin: false }, { handleSignals: false });
    expect(flags).toEqual(['--initial-old-space-size=128', '--initial-old-space-size=0']);
    await cleanup();
    flags.length = 0;
    await init({ lcores: '0-1', pin: false, heapMb: 0 }, { handleSignals: false });
    expect(flags).toEqual([]);
  });

  it('puts back what node was started with', () => {
    expect(startupInitialOldSpaceMb(['--initial-old-space-size=300'])).toBe(300);
    expect(startupInitialOldSpaceMb(['--initial_old_space_size', '40', '--expose-gc'])).toBe(40);
    expect(startupInitialOldSpaceMb(['--max-old-space-size=512'])).toBe(0);
  });
});
