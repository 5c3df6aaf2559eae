import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileCache, resolveTarget } from './files.js';

const enc = (s: string) => new TextEncoder().encode(s);
const resolve = (s: string) => resolveTarget(enc(s), enc(s).length);

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function tree(): { base: string; root: string } {
  const base = mkdtempSync(join(tmpdir(), 'httpd-files-'));
  dirs.push(base);
  const root = join(base, 'www');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<p>home</p>');
  writeFileSync(join(root, 'a b.txt'), 'space');
  writeFileSync(join(root, 'sub', 'x.json'), '{}');
  writeFileSync(join(base, 'secret.txt'), 'outside the root');
  symlinkSync(join(base, 'secret.txt'), join(root, 'escape.txt'));
  symlinkSync(join(root, 'sub', 'x.json'), join(root, 'inside.json'));
  return { base, root };
}

describe('resolveTarget', () => {
  it('normalises paths, strips query and fragment, takes absolute-form', () => {
    expect(resolve('/')).toBe('');
    expect(resolve('/a/./b//c')).toBe('a/b/c');
    expect(resolve('/a/b/../c?x=/../..')).toBe('a/c');
    expect(resolve('/a%20b.txt')).toBe('a b.txt');
    expect(resolve('http://host:8080/sub/x.json')).toBe('sub/x.json');
    expect(resolve('HTTP://host')).toBe('');
  });

  it('refuses whatever would climb above the root, encoded or not', () => {
    for (const t of [
      '/..',
      '/../etc/passwd',
      '/a/../../etc/passwd',
      '/%2e%2e/etc/passwd',
      '/%2E%2E%2Fetc%2Fpasswd',
      '/a/%2e%2e%2f%2e%2e%2fetc',
      '/..%5cetc',
      '/a%00b',
      '/bad%zz',
      '/trunc%2',
      '/%ff%fe', // not UTF-8
      '*',
      'ftp://x/y',
    ])
      expect(resolve(t), t).toBeNull();
  });
});

describe('FileCache', () => {
  it('serves files under the root, index.html for a folder, and 404 for the rest', () => {
    const { root } = tree();
    const cache = new FileCache(root);
    const get = (t: string) => cache.lookup(enc(t), enc(t).length, 0);
    const home = get('/');
    expect(home.status).toBe(200);
    const r = home.response!.get(0);
    const text = new TextDecoder().decode(r.bytes);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toContain('Content-Type: text/html; charset=utf-8\r\n');
    expect(text).toContain('Content-Length: 11\r\n');
    expect(text.endsWith('\r\n\r\n<p>home</p>')).toBe(true);
    expect(get('/a%20b.txt').status).toBe(200);
    expect(get('/sub/x.json').status).toBe(200);
    expect(get('/inside.json').status).toBe(200); // a link that stays inside
    expect(get('/missing').status).toBe(404);
    expect(get('/sub').status).toBe(404); // a folder without index.html
    expect(get('/escape.txt').status).toBe(404); // a link that points out of the root
    expect(get('/../secret.txt').status).toBe(400);
    expect(get('/%2e%2e/secret.txt').status).toBe(400);
  });

  it('answers a hit from the same entry, and sees changes after revalidateMs', () => {
    const { root } = tree();
    const cache = new FileCache(root, { revalidateMs: 100 });
    const t = enc('/new.txt');
    expect(cache.lookup(t, t.length, 0).status).toBe(404);
    writeFileSync(join(root, 'new.txt'), 'now here');
    expect(cache.lookup(t, t.length, 50).status).toBe(404); // not re-checked yet
    const e = cache.lookup(t, t.length, 150);
    expect(e.status).toBe(200);
    expect(cache.lookup(t, t.length, 160)).toBe(e);
    writeFileSync(join(root, 'new.txt'), 'changed, and longer');
    const after = cache.lookup(t, t.length, 300);
    expect(new TextDecoder().decode(after.response!.get(0).bytes)).toContain(
      'Content-Length: 19\r\n',
    );
  });
});
