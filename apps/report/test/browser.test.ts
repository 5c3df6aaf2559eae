// The browser test: each report page loads in headless Chromium (Debian's chromium,
// driven by playwright-core) with no console errors, its charts render (checked on the canvas
// elements themselves), and a screenshot is kept in artifacts/ (git-ignored). The pages are
// written to a temporary directory (inlined Chart.js is not ours to lint).
/// <reference lib="dom" />
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  renderBenchmarksReport,
  renderRunReport,
  renderScalingReport,
  writeReport,
} from '../src/index.ts';
import { fixtureResults, runReport, scalingReport } from './fixtures.ts';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(executablePath);
const artifacts = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

if (!haveChromium) {
  console.log(
    `skipping the browser test: no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`,
  );
}

describe.skipIf(!haveChromium)('report pages in headless Chromium', () => {
  let browser: Browser;
  let pagesDir: string;
  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    pagesDir = mkdtempSync(join(tmpdir(), 'bypass-report-'));
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(pagesDir, { recursive: true, force: true });
  });

  const pages: [name: string, html: () => string, charts: string[]][] = [
    ['run-report', () => renderRunReport(runReport), ['latency', 'throughput', 'lcores']],
    ['scaling-report', () => renderScalingReport(scalingReport), ['scaling']],
    ['benchmarks-report', () => renderBenchmarksReport(fixtureResults()).html, ['latency']],
  ];

  it.each(pages)('%s renders its charts with no console errors', async (name, html, kinds) => {
    const file = writeReport(pagesDir, name, html()).html;
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction(() => document.body.dataset.chartsRendered !== undefined, null, {
      timeout: 10_000,
    });
    const result = await page.evaluate(() => {
      const canvases = [...document.querySelectorAll<HTMLCanvasElement>('canvas.bypass-chart')];
      return {
        rendered: document.body.dataset.chartsRendered,
        charts: canvases.map((c) => {
          const ctx = c.getContext('2d');
          const data = ctx
            ? ctx.getImageData(0, 0, c.width, c.height).data
            : new Uint8ClampedArray();
          let drawn = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) drawn++;
          const box = c.getBoundingClientRect();
          return { kind: c.dataset.chart, width: box.width, height: box.height, drawn };
        }),
      };
    });
    await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
    await page.close();
    expect(errors).toEqual([]);
    expect(result.rendered).toBe(String(kinds.length));
    expect(result.charts.map((c) => c.kind)).toEqual(kinds);
    for (const c of result.charts) {
      expect(c.width).toBeGreaterThan(0);
      expect(c.height).toBeGreaterThan(0);
      expect(c.drawn).toBeGreaterThan(1000);
    }
  });
});
