// Renders bench/results.json into bench/RESULTS.md: every figure, with the performance targets checked.
import type { MemoryResult } from './memory.js'
import type { OverheadResult } from './overhead.js'
import type { SizeReport, SizeRow } from './size.js'

export interface SteadyRow {
  name: string
  rps: number
  cpuUsPerRequest: number
  throughputRatio: number
  cpuRatio: number
  throughputRatios: number[]
  cpuRatios: number[]
  failures: number
}

export interface StormRow {
  name: string
  kind: 'none' | 'expired' | 'revoked'
  drainMs: number
  referenceDrainMs: number
  /** Median over rounds of drain / drain without expiry in the same round. */
  drainRatio: number
  drainRatios: number[]
  refreshRttMs: number
  /** Rounds with 1 refresh call, 0 failures and drain ≤ (same-round reference + one refresh round trip) × 1.1. */
  roundsWithinTarget: number
  withinTarget: boolean
  connections: number[]
  refreshesBeforeBurst: number[]
  refreshCalls: number[]
  refreshRejected: number[]
  unauthorized: number[]
  apiCalls: number[]
  failures: number[]
  timedOut: boolean
  firstError: string | undefined
}

export interface Report {
  date: string
  node: string
  machine: string
  loadAverage: number[]
  loadAverageAfter?: number[] | undefined
  clientFlags: string[]
  /** When each section was last measured (a partial run keeps the other sections). */
  sectionDates?: Record<string, string> | undefined
  steady?: { rounds: number; requests: number; concurrency: number; rows: SteadyRow[] } | undefined
  storm?: { rounds: number; burst: number; revokeAfter: number; rows: StormRow[] } | undefined
  paired?: { batches: number; batchRequests: number; concurrency: number; rows: SteadyRow[] } | undefined
  memory?: MemoryResult | undefined
  overhead?: OverheadResult | undefined
  size?: SizeReport | undefined
}

const SUBJECT = 'session-fetch'
const CORE_BUDGET = 12_000 // bytes (kB = 1,000 bytes, as size-limit counts): the request path

const fixed = (value: number, digits = 2) => value.toFixed(digits)
const kb = (bytes: number) => `${(bytes / 1000).toFixed(2)} kB`
const mark = (ok: boolean) => (ok ? 'met' : '**missed**')
const list = (values: number[]) => values.map((v) => String(v)).join(' / ')

function steadySection(steady: NonNullable<Report['steady']>): string[] {
  const lines = [
    '## Steady state',
    '',
    `${steady.requests.toLocaleString('en')} authenticated GETs at concurrency ${steady.concurrency} per contender ` +
      `and round, ${steady.rounds} interleaved rounds; ratios are to bare fetch in the same round, then the median ` +
      'over rounds (absolute figures are medians too, and only indicative on a shared machine).',
    '',
    '| contender | req/s | CPU µs/req | throughput × bare | CPU × bare | per-round throughput ratios | per-round CPU ratios | failures |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- | ---: |',
  ]
  for (const row of steady.rows) {
    lines.push(
      `| ${row.name} | ${Math.round(row.rps)} | ${fixed(row.cpuUsPerRequest, 1)} | ${fixed(row.throughputRatio)} | ` +
        `${fixed(row.cpuRatio)} | ${row.throughputRatios.map((v) => fixed(v)).join(' ')} | ` +
        `${row.cpuRatios.map((v) => fixed(v)).join(' ')} | ${row.failures} |`,
    )
  }
  const mine = steady.rows.find((row) => row.name === SUBJECT)
  if (mine) {
    lines.push(
      '',
      `Targets: throughput ≥ 0.95 × bare: ${fixed(mine.throughputRatio)} (${mark(mine.throughputRatio >= 0.95)}); ` +
        `CPU per request ≤ 1.10 × bare: ${fixed(mine.cpuRatio)} (${mark(mine.cpuRatio <= 1.1)}).`,
    )
  }
  return lines
}

function pairedSection(paired: NonNullable<Report['paired']>): string[] {
  const lines = [
    '## Steady state, one process',
    '',
    `The same authenticated GET, every contender in **one** client process, in ${paired.batches} alternating ` +
      `batches of ${paired.batchRequests.toLocaleString('en')} calls at concurrency ${paired.concurrency} ` +
      '(order rotated per batch). Each batch is divided by the bare-fetch batch of the same rotation, then the ' +
      'median is taken: JIT, heap and the load of the moment are shared, so these ratios are much steadier ' +
      'than those of separate processes above. `undici.request` is left out here (importing undici from npm ' +
      "replaces the platform fetch's dispatcher).",
    '',
    '| contender | req/s | CPU µs/req | throughput × bare | CPU × bare | per-batch throughput ratios | per-batch CPU ratios | failures |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- | ---: |',
  ]
  for (const row of paired.rows) {
    lines.push(
      `| ${row.name} | ${Math.round(row.rps)} | ${fixed(row.cpuUsPerRequest, 1)} | ${fixed(row.throughputRatio)} | ` +
        `${fixed(row.cpuRatio)} | ${row.throughputRatios.map((v) => fixed(v)).join(' ')} | ` +
        `${row.cpuRatios.map((v) => fixed(v)).join(' ')} | ${row.failures} |`,
    )
  }
  const mine = paired.rows.find((row) => row.name === SUBJECT)
  if (mine) {
    lines.push(
      '',
      `Targets: throughput ≥ 0.95 × bare: ${fixed(mine.throughputRatio)} (${mark(mine.throughputRatio >= 0.95)}); ` +
        `CPU per request ≤ 1.10 × bare: ${fixed(mine.cpuRatio)} (${mark(mine.cpuRatio <= 1.1)}).`,
    )
  }
  return lines
}

function overheadSection(overhead: OverheadResult): string[] {
  return [
    '## Wrapper cost without the network',
    '',
    `The same in-process transport (it answers at once) called directly with a fixed header and through ` +
      `\`plantly.fetch\`, ${overhead.calls.toLocaleString('en')} sequential calls each, ${overhead.rounds} ` +
      'interleaved rounds in one process, CPU time per call (medians). This isolates what the wrapper itself ' +
      'adds (URL join, scoping, Headers, token lookup), which the loopback figures above cannot resolve.',
    '',
    '| path | CPU µs/call |',
    '| --- | ---: |',
    `| transport called directly | ${fixed(overhead.directUs)} |`,
    `| through plantly.fetch | ${fixed(overhead.wrappedUs)} |`,
    `| **wrapper's own cost** (median of per-round differences) | **${fixed(overhead.overheadUs)}** |`,
  ]
}

function stormSection(storm: NonNullable<Report['storm']>): string[] {
  const lines = [
    '## Storm',
    '',
    `${storm.burst.toLocaleString('en')} calls started at once, after an unmeasured warm-up burst of the same ` +
      `size (so the connections exist and the figure is about the clients, not about TCP handshakes). ` +
      `${storm.rounds} rounds; per-round figures are separated by "/", and each case is compared with the burst ` +
      'without expiry of the same contender in the same round. Refresh calls are the `PUT /auth/sessions` the ' +
      'server received during the measured burst; the server rotates refresh tokens and revokes the session ' +
      'when a used one comes back (the Plantly contract), so uncoordinated refreshes fail.',
    '',
    '- **none**: the burst with a valid token (the reference).',
    '- **expired**: the access token (20 s lifetime, known from `expires_in` and the JWT) has just expired when ' +
      'the burst starts; the server refuses it too. Every case starts its measured burst 20.3 s after the login, ' +
      'so the reference idles as long.',
    `- **revoked**: the server ends the token after answering ${storm.revokeAfter.toLocaleString('en')} calls of ` +
      'the burst; nothing tells the client beforehand, so every call still in flight gets a 401 and has to be ' +
      'sent twice: no client can drain this case in "reference + one refresh round trip".',
    '',
    '| contender | case | drain ms (median) | × same-round reference | per-round ratios | refresh calls | refreshes refused | 401s served | new connections | failures | target met (rounds) |',
    '| --- | --- | ---: | ---: | --- | --- | --- | --- | --- | --- | --- |',
  ]
  for (const row of storm.rows) {
    const target =
      row.kind === 'none'
        ? ''
        : `${row.withinTarget ? 'yes' : 'no'} (${row.roundsWithinTarget}/${row.refreshCalls.length})`
    lines.push(
      `| ${row.name} | ${row.kind} | ${Math.round(row.drainMs)}${row.timedOut ? ' (timed out)' : ''} | ` +
        `${row.kind === 'none' ? '' : fixed(row.drainRatio)} | ${row.kind === 'none' ? '' : row.drainRatios.map((v) => fixed(v)).join(' / ')} | ` +
        `${list(row.refreshCalls)} | ${list(row.refreshRejected)} | ${list(row.unauthorized)} | ` +
        `${list(row.connections)} | ${list(row.failures)} | ${target} |`,
    )
  }
  const rtt = storm.rows[0]?.refreshRttMs
  if (rtt !== undefined) {
    lines.push(
      '',
      `One refresh round trip (median of the rounds' medians of 5 sequential PUTs, bare fetch, after a burst): ` +
        `${fixed(rtt, 1)} ms. The drain target is met in a round when there was 1 refresh call and 0 failures ` +
        'and the drain was ≤ (the same-round reference + one refresh round trip) × 1.1.',
    )
  }
  const early = storm.rows.filter((row) => row.refreshesBeforeBurst.some((n) => n > 0))
  if (early.length) {
    lines.push(
      '',
      `Refreshes before the measured burst (the case did not happen as planned): ${early.map((row) => `${row.name} ${row.kind}`).join(', ')}.`,
    )
  }
  const errors = storm.rows.filter((row) => row.firstError)
  if (errors.length) {
    lines.push('', 'First failure seen per row:', '')
    for (const row of errors) lines.push(`- ${row.name} ${row.kind}: \`${row.firstError}\``)
  }
  return lines
}

function memorySection(memory: MemoryResult): string[] {
  const first = memory.checkpoints[0]
  const last = memory.checkpoints[memory.checkpoints.length - 1]
  const lines = [
    '## Memory',
    '',
    `\`plantly.fetch\` in one process with \`--expose-gc\` (gc, pause, gc before each reading), concurrency 64, ` +
      'over an **in-process transport stub** (the `fetch` option) that speaks the Plantly Sessions API: 1M calls ' +
      'over loopback take too long on the shared 2-core machine. Every 100th call is aborted while in flight; ' +
      'every 1,000th answer ends the access token, so the calls in flight get a 401, one refresh runs and they ' +
      'are replayed.',
    '',
    '| requests | heapUsed |',
    '| ---: | ---: |',
  ]
  for (const point of memory.checkpoints) {
    lines.push(
      `| ${point.requests.toLocaleString('en')} | ${(point.heapUsedBytes / 2 ** 20).toFixed(2)} MiB |`,
    )
  }
  if (first && last) {
    const growth = last.heapUsedBytes - first.heapUsedBytes
    lines.push(
      '',
      `Growth from ${first.requests.toLocaleString('en')} to ${last.requests.toLocaleString('en')}: ` +
        `${(growth / 1024).toFixed(0)} KiB (target < 1 MB: ${mark(growth < 1_000_000)}). ` +
        `Refreshes ${memory.refreshes}, replays ${memory.replays}, aborted ${memory.aborted}, ` +
        `failures ${memory.failures}, 401 after the one replay ${memory.unauthorizedAfterReplay}; at the end ` +
        `${memory.listeners} listeners and ${memory.pendingRefreshes} pending refreshes. ` +
        `${(memory.elapsedMs / 1000).toFixed(0)} s in all.`,
    )
  }
  return lines
}

function topInputs(row: SizeRow, count: number): string {
  return Object.entries(row.inputs)
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, bytes]) => `${name.replace(/^src\//, '')} ${(bytes / 1000).toFixed(1)}`)
    .join(', ')
}

function sizeSection(size: SizeReport): string[] {
  const lines = [
    '## Size',
    '',
    'Each entry point bundled with its dependencies by esbuild (ESM, tree-shaken, minified, platform neutral; ' +
      'peer dependencies and Node built-ins external), then gzip -9. What an entry loads on first use with a ' +
      'dynamic import() (the ofetch session call, p-queue: only a login, refresh or logout needs them) is left ' +
      'out of the first row and counted in the "with what loads on first use" row. `npm test` holds these with ' +
      'size-limit (`.size-limit.js`).',
    '',
    '| entry | min | min+gz | largest inputs (kB minified) |',
    '| --- | ---: | ---: | --- |',
  ]
  for (const row of size.entries) {
    lines.push(`| ${row.name} | ${kb(row.minified)} | ${kb(row.gzipped)} | ${topInputs(row, 8)} |`)
  }
  const core = size.entries.find((row) => row.name === SUBJECT)
  if (core) {
    lines.push(
      '',
      `Target: core request path ≤ 12 kB min+gz with its dependencies: ${kb(core.gzipped)} (${mark(core.gzipped <= CORE_BUDGET)}).`,
    )
  }
  return lines
}

export function renderResults(report: Report, notes = ''): string {
  const lines = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts); raw figures in `bench/results.json`. The machine is shared with ' +
      'other jobs, so only ratios measured in the same round mean anything.',
    '',
    `- Date: ${report.date}` +
      (report.sectionDates
        ? ` (sections: ${Object.entries(report.sectionDates)
            .map(([phase, date]) => `${phase} ${date.slice(0, 16).replace('T', ' ')}`)
            .join(', ')})`
        : ''),
    `- Node: ${report.node}; client flags: ${report.clientFlags.length ? report.clientFlags.join(' ') : '(none)'} ` +
      '(the same for every contender); server and each client run in their own process, on 127.0.0.1',
    `- Machine: ${report.machine}; load average before ${report.loadAverage.map((v) => v.toFixed(2)).join(' ')}` +
      (report.loadAverageAfter
        ? `, after ${report.loadAverageAfter.map((v) => v.toFixed(2)).join(' ')}`
        : ''),
    '',
  ]
  if (report.steady) lines.push(...steadySection(report.steady), '')
  if (report.paired) lines.push(...pairedSection(report.paired), '')
  if (report.overhead) lines.push(...overheadSection(report.overhead), '')
  if (report.storm) lines.push(...stormSection(report.storm), '')
  if (report.memory) lines.push(...memorySection(report.memory), '')
  if (report.size) lines.push(...sizeSection(report.size), '')
  if (notes) lines.push(notes.trim(), '')
  return `${lines.join('\n').trimEnd()}\n`
}
