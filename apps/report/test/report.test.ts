import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { escapeHtml, scriptJson } from '../src/html.ts';
import {
  intervalLog,
  percentileText,
  renderBenchmarksReport,
  renderRunReport,
  renderScalingReport,
} from '../src/index.ts';
import { fixtureResults, runReport, scalingReport, TEN_VALUES } from './fixtures.ts';

describe('percentileText', () => {
  it('prints HdrHistogram percentile distribution, scaled to µs', () => {
    const lines = percentileText(TEN_VALUES, 'ns', 'us').split('\n');
    expect(lines[0]).toBe('       Value     Percentile TotalCount 1/(1-Percentile)');
    expect(lines[1]).toBe('');
    expect(lines[2]).toBe('       1.000 0.000000000000          1           1.00');
    expect(lines[7]).toBe('       5.003 0.500000000000          5           2.00');
    expect(lines[19]).toBe('       9.007 0.900000000000          9          10.00');
    expect(lines[21]).toBe('      10.007 1.000000000000         10');
    expect(lines[22]).toBe('#[Mean    =        5.502, StdDeviation   =        2.874]');
    expect(lines[23]).toBe('#[Max     =       10.007, Total count    =           10]');
    expect(lines[24]).toBe('#[Buckets =            4, SubBuckets     =         2048]');
  });

  it('keeps the recorded unit without outputUnit', () => {
    const text = percentileText(TEN_VALUES, 'ns');
    expect(text).toContain('    5003.000 0.500000000000          5           2.00');
    expect(percentileText(TEN_VALUES, 'us', 'us')).toBe(text);
  });
});

describe('intervalLog', () => {
  it('writes the interval log format, readable back', () => {
    const log = intervalLog(
      [
        { startS: 0, endS: 1, encoded: TEN_VALUES },
        { startS: 1, endS: 2.5, encoded: TEN_VALUES },
      ],
      'ns',
    );
    const lines = log.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      '#[Histogram log format version 1.3]',
      '#[Values recorded in nanoseconds]',
      '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"',
    ]);
    expect(lines[3]).toBe(`0.000,1.000,0.010,${TEN_VALUES}`);
    expect(lines[4]).toBe(`1.000,1.500,0.010,${TEN_VALUES}`);
    expect(lines[5]).toBe('');
    const reader = new hdr.HistogramLogReader(log);
    const first = reader.nextIntervalHistogram();
    const second = reader.nextIntervalHistogram();
    expect(first?.totalCount).toBe(10);
    expect(second?.startTimeStampMsec).toBe(1000);
    expect(second?.endTimeStampMsec).toBe(2500);
    expect(reader.nextIntervalHistogram()).toBeNull();
  });
});

describe('escaping', () => {
  it('escapes HTML and script JSON', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    );
    expect(scriptJson({ s: '</script><!--' })).toBe('{"s":"\\u003c/script\\u003e\\u003c!--"}');
  });

  it('escapes every user string in a run report', () => {
    const html = renderRunReport(runReport);
    expect(html).toContain('<title>httpd &lt;b&gt;&amp;&lt;/b&gt; loadgen</title>');
    expect(html).toContain('<h1>httpd &lt;b&gt;&amp;&lt;/b&gt; loadgen</h1>');
    expect(html).toContain('Test &quot;CPU&quot;');
    expect(html).toContain('/&lt;index&gt;.html');
    expect(html).not.toContain('<b>&</b>');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/cdn/);
  });
});

describe('run and scaling reports', () => {
  it('has the charts, the summary and the percentile table', () => {
    const html = renderRunReport(runReport);
    for (const kind of ['latency', 'throughput', 'lcores']) {
      expect(html).toContain(`class="bypass-chart" data-chart="${kind}"`);
    }
    expect(html).toContain('<td>1,000,000</td><td>5</td><td>200,000</td><td>1.6</td><td>0</td>');
    expect(html).toContain('<tr><td>p50</td><td>5.003</td></tr>');
    expect(html).toContain('<tr><td>max</td><td>10.01</td></tr>');
    expect(html).toContain('Chart.js v4');
  });

  it('scaling: one chart, efficiency and the oversubscribed mark', () => {
    const html = renderScalingReport(scalingReport);
    expect(html.match(/class="bypass-chart"/g)).toHaveLength(1);
    expect(html).toContain('data-chart="scaling"');
    expect(html).toContain('<td>90%</td>');
    expect(html).toContain('yes (more lcores than the 2 cores)');
    expect(html).toContain('asked for 3 lcores; the machine has 2 cores');
  });
});

describe('renderBenchmarksReport', () => {
  it('tabulates every benchmark and plots the ones with histograms', () => {
    const { html, markdown } = renderBenchmarksReport(fixtureResults());
    const md = markdown.split('\n');
    expect(md).toContain(
      '| echo-latency | req/s | 250,000 | 240,000–260,000 | node-net | 12,500 | 20× | 2026-01-01T00:00:00.000Z |',
    );
    expect(md).toContain(
      '| ring<script> (quick) | Mobj/s | 61.2 | 55–64.9 | postMessage & co | 0.61 | 100.3× | 2026-01-02T00:00:00.000Z |',
    );
    expect(md).toContain(
      '| bypass | 5.003 | 8.003 | 9.007 | 10.01 | 10.01 | 10.01 | 10.01 | 10.01 | 5.502 | 10 |',
    );
    expect(markdown).not.toContain('hello');
    expect(html).toContain('<td>ring&lt;script&gt; (quick)</td>');
    expect(html).toContain('<td>postMessage &amp; co</td>');
    expect(html.match(/class="bypass-chart" data-chart="latency"/g)).toHaveLength(1);
  });

  it('copes with no results', () => {
    const { html, markdown } = renderBenchmarksReport([]);
    expect(html).toContain('chartsRendered = "0"');
    expect(markdown).toContain('| benchmark |');
  });
});
