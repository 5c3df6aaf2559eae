// net_tap's devargs, checked at probe time (no tap device is opened: runs anywhere).
import { OptionError } from '@bypass/atomics-sync';
import { describe, expect, it } from 'vitest';
import { tapDriver, tapOffload } from './tap.js';

describe('net_tap offload=', () => {
  it('none, csum and tso are accepted; none is the same as not giving it', () => {
    for (const offload of ['none', 'csum', 'tso']) {
      expect(() => tapDriver.probe('net_tap0', { iface: 'bp0', offload })).not.toThrow();
    }
    expect(tapOffload({ offload: 'none' })).toBeUndefined();
    expect(tapOffload({})).toBeUndefined();
    expect(tapOffload({ offload: 'csum' })).toBe('csum');
    expect(tapOffload({ offload: 'tso' })).toBe('tso');
  });

  it('anything else is an OptionError naming the option, the value and the choices', () => {
    const probe = () => tapDriver.probe('net_tap0', { iface: 'bp0', offload: 'gso' });
    expect(probe).toThrow(OptionError);
    expect(probe).toThrow('net_tap0 offload must be none, csum or tso, got gso');
  });
});
