// Renders bench/results.json into bench/RESULTS.md: every figure, with the performance targets checked.
import type { MemoryResult } from './memory.js'
import type { OverheadResult } from './overhead.js'
import type { SizeReport, SizeRow } from './size.js'

export interface SteadyRow {
  name: string
  /** The same rounds' ratios to a second reference (e.g. the undici adapter against `undici.request` alone). */
  against?:
    | {
        reference: string
        throughputRatio: number
        cpuRatio: number
        throughputRatios: number[]
        cpuRatios: number[]
      }
    | undefined
  rps: number
  cpuUsPerRequest: number
  throughputRatio: number
  cpuRatio: number
  throughputRatios: number[]
  cpuRatios: number[]
  failures: number
}

/** One contender's instructions per call in the instructions phase (callgrind), one figure per run. */
export interface InstructionsRow {
  name: string
  /** The client this adapter is measured against; undefined for a reference. */
  reference: string | undefined
  perCall: number[]
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

export interface PairedReport {
  batches: number
  batchRequests: number
  concurrency: number
  /** What every ratio divides by (bare-fetch when absent). */
  reference?: string | undefined
  rows: SteadyRow[]
}

/** Latencies in ms (nearest-rank percentiles). */
export interface LatencyStats {
  n: number
  p50: number
  p99: number
  max: number
}

export interface LatencyRow {
  mode: 'ahead' | 'blocking'
  rounds: {
    inside: LatencyStats
    outside: LatencyStats
    refreshes: number
    failures: number
    /** The client's longest event-loop delay in that run (ms): a stall of the loaded machine, not of a refresh. */
    loopDelayMaxMs: number
  }[]
  /** Every round's calls together. */
  inside: LatencyStats
  outside: LatencyStats
  /** Per round: p99 inside the window / p99 outside it. */
  p99Ratios: number[]
  p99Ratio: number
  firstError?: string | undefined
}

export interface LatencyReport {
  rounds: number
  rate: number
  durationMs: number
  warmup: number
  speed: number
  lifetimeSeconds: number
  refreshLatencyMs: number
  refreshWindowMs: number
  mustRefreshMs: number
  rows: LatencyRow[]
}

/** The first round's calls of each mode: [ms since start, latency ms, 1 if inside the window]. */
export type LatencySamples = Record<'ahead' | 'blocking', [number, number, 0 | 1][]>

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
  storm?:
    | {
        rounds: number
        burst: number
        revokeAfter: number
        ttlSeconds?: number | undefined
        rows: StormRow[]
      }
    | undefined
  instructions?: { runs: number; requests: number; warmup?: number; rows: InstructionsRow[] } | undefined
  paired?: PairedReport | undefined
  /** The undici adapter and undici.request alone, in one process of their own (reference: undici-request). */
  pairedUndici?: PairedReport | undefined
  latency?: LatencyReport | undefined
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
    lines.push(ratioRow(row))
  }
  lines.push('', ...targets(steady.rows, 'round'))
  return lines
}

const spread = (values: number[]) =>
  values.length ? `${fixed(Math.min(...values))}–${fixed(Math.max(...values))}` : 'n/a'

/** The goals checked on a steady table: medians of per-round (per-batch) ratios, with their spread. */
/** One contender's line in a throughput / CPU table (steady state, one process, the undici adapter). */
function ratioRow(row: SteadyRow): string {
  const ratios = (values: number[]) => values.map((v) => fixed(v)).join(' ')
  return (
    `| ${row.name} | ${Math.round(row.rps)} | ${fixed(row.cpuUsPerRequest, 1)} | ${fixed(row.throughputRatio)} | ` +
    `${fixed(row.cpuRatio)} | ${ratios(row.throughputRatios)} | ${ratios(row.cpuRatios)} | ${row.failures} |`
  )
}

function targets(rows: SteadyRow[], unit: 'round' | 'batch'): string[] {
  const lines: string[] = []
  const mine = rows.find((row) => row.name === SUBJECT)
  if (mine) {
    lines.push(
      `- \`fetch\` wrapper: throughput ≥ 0.98 × bare fetch: ${fixed(mine.throughputRatio)} ` +
        `(per-${unit} ${spread(mine.throughputRatios)}, ${mark(mine.throughputRatio >= 0.98)}); ` +
        `CPU per request ≤ 1.04 × bare: ${fixed(mine.cpuRatio)} (per-${unit} ${spread(mine.cpuRatios)}, ` +
        `${mark(mine.cpuRatio <= 1.04)}).`,
    )
  }
  for (const row of rows) {
    if (!row.against) continue
    lines.push(
      `- ${row.name}: throughput ≥ 0.90 × ${row.against.reference} in the same ${unit}: ` +
        `${fixed(row.against.throughputRatio)} (per-${unit} ${spread(row.against.throughputRatios)}, ` +
        `${mark(row.against.throughputRatio >= 0.9)}); CPU per request ${fixed(row.against.cpuRatio)} × ` +
        `(per-${unit} ${spread(row.against.cpuRatios)}).`,
    )
  }
  const axios = rows.find((row) => row.name === 'session-fetch-axios')
  const peer = rows.find((row) => row.name === 'axios-auth-refresh')
  if (axios && peer) {
    // Both are divided by the same bare-fetch figure of the round, so their quotient is axios / peer.
    const ratios = axios.cpuRatios.map((r, i) => r / (peer.cpuRatios[i] as number))
    const med = medianOf(ratios)
    lines.push(
      `- axios adapter: CPU per request ≤ axios-auth-refresh's: ${fixed(med)} × ` +
        `(per-${unit} ${spread(ratios)}, ${mark(med <= 1)}).`,
    )
  }
  return lines.length ? [`Goals (medians of the per-${unit} ratios, spread in brackets):`, '', ...lines] : []
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function latencySection(latency: LatencyReport): string[] {
  const lines = [
    '## Latency across refreshes',
    '',
    `A steady stream of ${latency.rate} GETs per second through \`plantly.fetch\` (open loop: calls start on ` +
      `schedule whatever the answers do) for ${(latency.durationMs / 1000).toFixed(0)} s per mode and round, ` +
      `${latency.rounds} rounds, the modes alternating in separate processes (after ${latency.warmup} unmeasured calls, one refresh and ${latency.warmup} calls more). ` +
      `The server answers every refresh after ${latency.refreshLatencyMs} ms. The client's clock (the \`now\` ` +
      `option) runs ${latency.speed} × faster than the real one, so ${latency.lifetimeSeconds} s tokens with the ` +
      `default ${latency.refreshWindowMs / 1000} s refresh window are refreshed every ` +
      `${((latency.lifetimeSeconds - latency.refreshWindowMs / 1000) / latency.speed).toFixed(2)} real seconds; ` +
      'the server keeps tokens valid for their real lifetime, so no call gets a 401. A call is **inside** the window when, as it is sent, the token it finds ' +
      'is within the refresh window of its expiry (the refresh is due or running).',
    '',
    `- **refresh-ahead**: the defaults (\`refreshWindowMs\` ${latency.refreshWindowMs / 1000} s, \`mustRefreshMs\` ` +
      `${latency.mustRefreshMs / 1000} s): a call inside the window starts the one refresh and is sent at once.`,
    `- **blocking**: \`mustRefreshMs\` = \`refreshWindowMs\`: every call inside the window waits for the refresh ` +
      '(how 0.1 behaved).',
    '',
    '| mode | calls | inside: n | p50 ms | p99 ms | max ms | outside: n | p50 ms | p99 ms | max ms | p99 inside / outside | per-round p99 inside | per-round p99 outside | per-round max inside | refreshes per round | per-round longest event-loop delay ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- |',
  ]
  for (const row of latency.rows) {
    const n = row.inside.n + row.outside.n
    lines.push(
      `| ${row.mode === 'ahead' ? 'refresh-ahead' : 'blocking'} | ${n} | ${row.inside.n} | ${fixed(row.inside.p50, 1)} | ` +
        `${fixed(row.inside.p99, 1)} | ${fixed(row.inside.max, 1)} | ${row.outside.n} | ${fixed(row.outside.p50, 1)} | ` +
        `${fixed(row.outside.p99, 1)} | ${fixed(row.outside.max, 1)} | ${fixed(row.p99Ratio)} | ` +
        `${row.rounds.map((r) => fixed(r.inside.p99, 1)).join(' / ')} | ${row.rounds.map((r) => fixed(r.outside.p99, 1)).join(' / ')} | ` +
        `${row.rounds.map((r) => fixed(r.inside.max, 1)).join(' / ')} | ${row.rounds.map((r) => r.refreshes).join(' / ')} | ` +
        `${row.rounds.map((r) => fixed(r.loopDelayMaxMs, 0)).join(' / ')} |`,
    )
  }
  const ahead = latency.rows.find((row) => row.mode === 'ahead')
  if (ahead) {
    const maxInside = Math.max(...ahead.rounds.map((r) => r.inside.max))
    lines.push(
      '',
      'Goals (refresh-ahead): p99 inside the window ≤ 1.2 × p99 outside it: median of the per-round ratios ' +
        `${fixed(ahead.p99Ratio)} (per-round ${spread(ahead.p99Ratios)}, ${mark(ahead.p99Ratio <= 1.2)}); ` +
        `max inside the window < the refresh latency (${latency.refreshLatencyMs} ms): ${fixed(maxInside, 1)} ms ` +
        `(per-round ${ahead.rounds.map((r) => fixed(r.inside.max, 1)).join(' / ')}, ${mark(maxInside < latency.refreshLatencyMs)}).` +
        ` Failures: ${latency.rows.map((row) => `${row.mode} ${row.rounds.reduce((sum, r) => sum + r.failures, 0)}`).join(', ')}.`,
    )
  }
  for (const row of latency.rows) {
    if (row.firstError) lines.push('', `First failure (${row.mode}): \`${row.firstError}\``)
  }
  return lines
}

function pairedUndiciSection(paired: PairedReport): string[] {
  const reference = paired.reference ?? 'undici-request'
  const lines = [
    '## The undici adapter, one process',
    '',
    `\`undici.request\` through an Agent composed with \`sessionInterceptor\` against \`undici.request\` alone ` +
      `(fixed header, undici's default Agent), both in one client process, ${paired.batches} alternating batches of ` +
      `${paired.batchRequests.toLocaleString('en')} calls at concurrency ${paired.concurrency}; ratios are to ` +
      `${reference} in the same rotation.`,
    '',
    `| contender | req/s | CPU µs/req | throughput × ${reference} | CPU × ${reference} | per-batch throughput ratios | per-batch CPU ratios | failures |`,
    '| --- | ---: | ---: | ---: | ---: | --- | --- | ---: |',
  ]
  for (const row of paired.rows) {
    lines.push(ratioRow(row))
  }
  const adapter = paired.rows.find((row) => row.name !== reference)
  if (adapter) {
    lines.push(
      '',
      `Goal: throughput ≥ 0.90 × ${reference}: ${fixed(adapter.throughputRatio)} (per-batch ` +
        `${spread(adapter.throughputRatios)}, ${mark(adapter.throughputRatio >= 0.9)}); CPU per request ` +
        `${fixed(adapter.cpuRatio)} × (per-batch ${spread(adapter.cpuRatios)}).`,
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
    lines.push(ratioRow(row))
  }
  lines.push('', ...targets(paired.rows, 'batch'))
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
    `- **expired**: the access token (${storm.ttlSeconds ?? 20} s lifetime, known from \`expires_in\` and the JWT) has just expired when ` +
      "the burst starts; the server refuses it too. Nobody waits for the lifetime to pass: the client's clock " +
      '(its `now`) moves past it and the server ends every token just before the burst.',
    `- **revoked**: the server ends the token after answering ${storm.revokeAfter.toLocaleString('en')} calls of ` +
      'the burst; nothing tells the client beforehand, so every call still in flight gets a 401 and has to be ' +
      'sent twice: no client can drain this case in "reference + one refresh round trip". "× reference per API ' +
      'request served" divides the drain ratio by how many more API requests the server answered than in the ' +
      'reference: about 1 means each request, replays included, cost what one of the reference did.',
    '',
    '| contender | case | drain ms (median) | × same-round reference | per-round ratios | × reference per API request served | refresh calls | refreshes refused | 401s served | new connections | failures | target met (rounds) |',
    '| --- | --- | ---: | ---: | --- | ---: | --- | --- | --- | --- | --- | --- |',
  ]
  // The drain ratio divided by how many more API requests the server answered than in the same round's
  // reference (a refused call and its replay are two): what each request cost, relative to the reference.
  const perServed = (row: StormRow): string => {
    const reference = storm.rows.find((other) => other.name === row.name && other.kind === 'none')
    if (row.kind === 'none' || !reference) return ''
    const ratios = row.drainRatios.map((ratio, round) => {
      const served = (row.apiCalls[round] ?? Number.NaN) / (reference.apiCalls[round] ?? Number.NaN)
      return ratio / served
    })
    return fixed(medianOf(ratios))
  }
  for (const row of storm.rows) {
    const target =
      row.kind === 'none'
        ? ''
        : `${row.withinTarget ? 'yes' : 'no'} (${row.roundsWithinTarget}/${row.refreshCalls.length})`
    lines.push(
      `| ${row.name} | ${row.kind} | ${Math.round(row.drainMs)}${row.timedOut ? ' (timed out)' : ''} | ` +
        `${row.kind === 'none' ? '' : fixed(row.drainRatio)} | ${row.kind === 'none' ? '' : row.drainRatios.map((v) => fixed(v)).join(' / ')} | ${perServed(row)} | ` +
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

function instructionsSection(instructions: NonNullable<Report['instructions']>): string[] {
  const kilo = (values: number[]) => values.map((v) => `${Math.round(v / 1000)}k`).join(' / ')
  const lines = [
    '## Instructions per call',
    '',
    `Each client in its own process under valgrind's callgrind, counting only ${instructions.requests.toLocaleString('en')} ` +
      `GETs at concurrency 16 after ${(instructions.warmup ?? 1000).toLocaleString('en')} unmeasured ones (the client ` +
      'asks for counting to be switched on and off; under valgrind V8 optimizes slowly, so the warm-up is long), ' +
      `${instructions.runs} run${instructions.runs === 1 ? '' : 's'} each. Instructions are not seconds (cache ` +
      "misses and waits do not show) and other load does not move them; garbage collection and when V8's " +
      'optimizing compiler finishes still move a run, by up to 15 % here.',
    '',
    '| contender | instructions per call (each run) | median | × its reference |',
    '| --- | --- | ---: | ---: |',
  ]
  const medianOfRow = (name: string | undefined) => {
    const row = instructions.rows.find((r) => r.name === name)
    return row?.perCall.length ? medianOf(row.perCall) : Number.NaN
  }
  for (const row of instructions.rows) {
    const ratio = row.reference ? fixed(medianOfRow(row.name) / medianOfRow(row.reference)) : ''
    const against = row.reference ? ` (${row.reference})` : ''
    lines.push(
      `| ${row.name} | ${kilo(row.perCall)} | ${kilo([medianOfRow(row.name)])} | ${ratio}${against} |`,
    )
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
    'Written by `npm run bench` (bench/run.ts); raw figures in `bench/out/results.json` (generated, not committed). The machine is shared with ' +
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
  if (report.pairedUndici) lines.push(...pairedUndiciSection(report.pairedUndici), '')
  if (report.overhead) lines.push(...overheadSection(report.overhead), '')
  if (report.latency) lines.push(...latencySection(report.latency), '')
  if (report.storm) lines.push(...stormSection(report.storm), '')
  if (report.instructions) lines.push(...instructionsSection(report.instructions), '')
  if (report.memory) lines.push(...memorySection(report.memory), '')
  if (report.size) lines.push(...sizeSection(report.size), '')
  if (notes) lines.push(notes.trim(), '')
  return `${lines.join('\n').trimEnd()}\n`
}
