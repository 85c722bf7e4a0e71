// Draws the headline figures of bench/results.json as SVG (vega-lite compiled to vega, rendered in Node
// without a browser or canvas): bench/charts/latency.svg and bench/charts/ratios.svg.
import { mkdirSync, writeFileSync } from 'node:fs'
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import type { LatencySamples, Report, SteadyRow } from './report.js'

const MODE_LABEL = {
  ahead: 'refresh-ahead (defaults)',
  blocking: 'blocking (mustRefreshMs = refreshWindowMs)',
}

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  const out = await view.toSVG()
  view.finalize()
  return `${out}\n`
}

/** Latency of every call of the first round over time, both modes, refreshes visible as the spikes (or not). */
function latencySpec(samples: LatencySamples, refreshLatencyMs: number): TopLevelSpec {
  const values = (['blocking', 'ahead'] as const).flatMap((mode) =>
    samples[mode].map(([t, latency, inside]) => ({
      mode: MODE_LABEL[mode],
      t: t / 1000,
      latency: Math.max(latency, 0.1),
      window: inside ? 'inside the refresh window' : 'outside it',
    })),
  )
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Latency of each call across proactive refreshes',
      subtitle: `one round per mode; the server answers each refresh after ${refreshLatencyMs} ms (dashed line)`,
    },
    data: { values },
    facet: {
      row: { field: 'mode', type: 'nominal', title: null, sort: [MODE_LABEL.blocking, MODE_LABEL.ahead] },
    },
    spec: {
      width: 720,
      height: 200,
      layer: [
        {
          // The slowest call of each 50 ms slice (per window class): every spike stays, the SVG stays small.
          transform: [
            { calculate: 'floor(datum.t * 20) / 20', as: 'slice' },
            {
              aggregate: [{ op: 'max', field: 'latency', as: 'slowest' }],
              groupby: ['mode', 'window', 'slice'],
            },
          ],
          mark: { type: 'point', filled: true, size: 18, opacity: 0.8 },
          encoding: {
            x: { field: 'slice', type: 'quantitative', title: 'time since the stream started (s)' },
            y: {
              field: 'slowest',
              type: 'quantitative',
              title: 'slowest call per 50 ms (ms, log)',
              scale: { type: 'log', domain: [1, 1000], clamp: true },
            },
            color: {
              field: 'window',
              type: 'nominal',
              title: 'sent',
              legend: { labelLimit: 300 },
              scale: { domain: ['inside the refresh window', 'outside it'], range: ['#d62728', '#9e9e9e'] },
            },
          },
        },
        {
          mark: { type: 'rule', strokeDash: [4, 4], color: '#333' },
          encoding: { y: { datum: refreshLatencyMs } },
        },
      ],
    },
    resolve: { scale: { x: 'shared', y: 'shared' } },
    config: { font: 'sans-serif', aria: false },
  }
}

/** Throughput and CPU ratios per contender: every round as a dot, the median as a bar. */
function ratiosSpec(rows: SteadyRow[], rounds: number): TopLevelSpec {
  const values: { contender: string; metric: string; value: number; kind: string }[] = []
  const add = (contender: string, throughput: number[], cpu: number[]) => {
    const median = (v: number[]) => {
      const s = [...v].sort((a, b) => a - b)
      const mid = Math.floor(s.length / 2)
      return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
    }
    for (const [metric, list] of [
      ['throughput (× reference, higher is better)', throughput],
      ['CPU per request (× reference, lower is better)', cpu],
    ] as const) {
      for (const value of list) values.push({ contender, metric, value, kind: 'round' })
      values.push({ contender, metric, value: median(list), kind: 'median' })
    }
  }
  for (const row of rows) {
    if (row.name === 'bare-fetch') continue
    add(`${row.name} ÷ bare fetch`, row.throughputRatios, row.cpuRatios)
    if (row.against) {
      add(`${row.name} ÷ ${row.against.reference}`, row.against.throughputRatios, row.against.cpuRatios)
    }
  }
  const order = [...new Set(values.map((v) => v.contender))]
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Steady state: ratios to the reference in the same round',
      subtitle: `bar: median over ${rounds} rounds; dots: each round (separate processes, shared machine)`,
    },
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', title: null, sort: 'descending' } },
    spec: {
      width: 300,
      height: { step: 22 },
      layer: [
        {
          transform: [{ filter: "datum.kind === 'median'" }],
          mark: { type: 'bar', color: '#8fb8de', height: 14 },
          encoding: {
            y: { field: 'contender', type: 'nominal', title: null, sort: order, axis: { labelLimit: 320 } },
            x: { field: 'value', type: 'quantitative', title: 'ratio', scale: { zero: true } },
          },
        },
        {
          transform: [{ filter: "datum.kind === 'round'" }],
          mark: { type: 'point', filled: true, color: '#1f3b57', size: 28 },
          encoding: {
            y: { field: 'contender', type: 'nominal', sort: order },
            x: { field: 'value', type: 'quantitative' },
          },
        },
        { mark: { type: 'rule', color: '#d62728' }, encoding: { x: { datum: 1 } } },
      ],
    },
    config: { font: 'sans-serif', aria: false },
  }
}

/** Writes the charts the report has data for; returns the paths written (relative to bench/). */
export async function renderCharts(
  report: Report,
  samples: LatencySamples | undefined,
  dir: string,
): Promise<string[]> {
  mkdirSync(`${dir}charts`, { recursive: true })
  const written: string[] = []
  if (samples && report.latency) {
    writeFileSync(
      `${dir}charts/latency.svg`,
      await svg(latencySpec(samples, report.latency.refreshLatencyMs)),
    )
    written.push('charts/latency.svg')
  }
  if (report.steady) {
    writeFileSync(`${dir}charts/ratios.svg`, await svg(ratiosSpec(report.steady.rows, report.steady.rounds)))
    written.push('charts/ratios.svg')
  }
  return written
}
