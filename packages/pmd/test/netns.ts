// Test hosts in network namespaces that the test itself creates and removes. Traffic in these
// tests goes only to addresses inside such a namespace.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadNative } from '@bypass/eal';

/** Why tap tests cannot run here, or undefined when they can. */
export function tapUnavailable(): string | undefined {
  if (process.getuid?.() !== 0)
    return 'not root (creating tap interfaces and namespaces needs CAP_NET_ADMIN)';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  if (spawnSync('ping', ['-V']).status !== 0) return 'ping (iputils-ping) is not installed';
  const n = loadNative() as unknown as Record<string, unknown> | null;
  if (n === null || typeof n.tapOpen !== 'function')
    return 'the native addon with tap support is not built';
  return undefined;
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
}

/** A namespace named bpt<pid><n>; `remove()` deletes it (and what is inside). */
export class Netns {
  static count = 0;
  readonly name = `bpt${process.pid % 100000}${Netns.count++}`;

  constructor() {
    sh('ip', ['netns', 'add', this.name]);
  }

  /** Moves interface `ifname` in, gives it `cidr` and brings it up. */
  adopt(ifname: string, cidr: string): void {
    sh('ip', ['link', 'set', ifname, 'netns', this.name]);
    sh('ip', ['-n', this.name, 'addr', 'add', cidr, 'dev', ifname]);
    sh('ip', ['-n', this.name, 'link', 'set', ifname, 'up']);
  }

  exec(cmd: string, args: string[]): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }

  remove(): void {
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}
