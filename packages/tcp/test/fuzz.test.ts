// Fuzzing two live stacks with mutated and made-up frames (fuzz-harness.ts): a fixed-seed run
// of fast-check cases, and every case in fuzz-corpus/ (what `pnpm fuzz` once found failing,
// kept as regression tests). Longer runs: `pnpm fuzz --minutes N`.
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FuzzCase, fuzzCaseArb, runFuzzCase } from './fuzz-harness.js';

const CORPUS = new URL('./fuzz-corpus/', import.meta.url);

describe('fuzzing two live stacks', () => {
  it('mutated, truncated, extended, reflected and made-up frames: no exception, no leak, tables consistent', () => {
    let injected = 0;
    let survived = 0;
    fc.assert(
      fc.property(fuzzCaseArb, (c) => {
        const o = runFuzzCase(c);
        injected += o.injected;
        if (o.connectionSurvived) survived++;
      }),
      { numRuns: 200, seed: 20261206 },
    );
    // The cases did reach the stacks, and most connections lived through them (RFC 5961 and
    // the checksums turn most of the garbage away).
    expect(injected).toBeGreaterThan(1000);
    expect(survived).toBeGreaterThan(100);
  });

  const corpus = readdirSync(CORPUS).filter((f) => f.endsWith('.json'));
  it.each(corpus.length > 0 ? corpus : ['(none yet)'])('corpus case %s still passes', (name) => {
    if (name === '(none yet)') return;
    const c = JSON.parse(readFileSync(new URL(name, CORPUS), 'utf8')) as FuzzCase;
    expect(() => runFuzzCase(c)).not.toThrow();
  });
});
