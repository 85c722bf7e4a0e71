// `npm run bench`: steady state, storm, memory and size, side by side in one run; writes bench/RESULTS.md and
// bench/out/results.json. Options: --only steady,paired,overhead,storm,memory,size (or build, or render)  --rounds 5  --requests 20000
// --concurrency 64  --storm-rounds 3  --burst 10000  --memory-requests 1000000  --contenders a,b,c
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { renderCharts } from './charts.js'
import type {
  InstructionsJob,
  LatencyJob,
  LatencyResult,
  PairedJob,
  PairedResult,
  SteadyJob,
  SteadyResult,
  StormJob,
  StormResult,
} from './client.js'
import { contenders } from './contenders/index.js'
import type { MemoryResult } from './memory.js'
import type { OverheadResult } from './overhead.js'
import {
  type InstructionsRow,
  type LatencySamples,
  type LatencyStats,
  type Report,
  renderResults,
} from './report.js'
import { sizes } from './size.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const out = `${here}.build/`
// What a run measured, raw: generated, never committed (RESULTS.md and the charts are what the docs show).
const data = `${here}out/`
/** Every client runs with exactly these flags (and the memory run adds --expose-gc). */
const CLIENT_FLAGS: string[] = []
const REFERENCE = 'bare-fetch'
const NO_SESSION = new Set(['bare-fetch', 'undici-request']) // fixed header: no expiry handling to measure
/** Contenders that import undici from npm (left out of the one-process phase). */
const USES_UNDICI = new Set(['undici-request', 'session-fetch-undici'])
/** A contender measured against another reference too (same rounds): the adapter against what it wraps. */
const ALSO_AGAINST: Record<string, string> = { 'session-fetch-undici': 'undici-request' }

/**
 * Defaults: a short run (about 6 minutes on the 2-core machine); `BENCH_FULL=1 npm run bench` takes the
 * longer figures (about 36 minutes). Every option can still be given on the command line.
 */
const FULL = process.env.BENCH_FULL === '1'
const byDefault = (short: number, full: number) => String(FULL ? full : short)

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'steady,paired,overhead,latency,storm,instructions,memory,size' },
    rounds: { type: 'string', default: byDefault(3, 5) },
    requests: { type: 'string', default: byDefault(6000, 20000) },
    concurrency: { type: 'string', default: '64' },
    warmup: { type: 'string', default: byDefault(1000, 2000) },
    'storm-rounds': { type: 'string', default: byDefault(1, 3) },
    batches: { type: 'string', default: byDefault(6, 12) },
    'batch-requests': { type: 'string', default: byDefault(2000, 5000) },
    burst: { type: 'string', default: byDefault(2000, 10000) },
    'revoke-after': { type: 'string', default: byDefault(400, 2000) },
    'storm-ttl': { type: 'string', default: '60' },
    'memory-requests': { type: 'string', default: byDefault(200000, 1000000) },
    'overhead-calls': { type: 'string', default: byDefault(50000, 200000) },
    'latency-rounds': { type: 'string', default: byDefault(3, 5) },
    'latency-rate': { type: 'string', default: '300' },
    'latency-duration': { type: 'string', default: byDefault(9000, 20000) },
    'instruction-runs': { type: 'string', default: byDefault(1, 3) },
    'instruction-requests': { type: 'string', default: '1000' },
    // Under valgrind V8's optimizing compiler runs serialized and slowly: after 1,000 calls bare fetch still took
    // 1.7M instructions per call, after 6,000 about 680k.
    'instruction-warmup': { type: 'string', default: '8000' },
    contenders: { type: 'string', default: Object.keys(contenders).join(',') },
  },
})
const phases = new Set(args.only.split(','))
const names = args.contenders.split(',')
if (!names.includes(REFERENCE)) names.unshift(REFERENCE)

async function bundle(): Promise<void> {
  rmSync(out, { recursive: true, force: true }) // no stale chunks from an earlier build
  mkdirSync(out, { recursive: true })
  // Own TypeScript compiled by esbuild (as tsup does for dist/); node_modules are loaded as installed.
  await build({
    entryPoints: [`${here}server.ts`, `${here}client.ts`, `${here}memory.ts`, `${here}overhead.ts`],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    target: 'node20',
    splitting: true,
    outdir: out,
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
  })
}

function child<T>(script: string, argv: string[], flags: string[], timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc: ChildProcess = fork(`${out}${script}`, argv, { execArgv: flags, stdio: 'inherit' })
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`${script} ${argv.join(' ').slice(0, 80)} took over ${timeoutMs} ms`))
    }, timeoutMs)
    proc.once('message', (message: { ok: boolean; result?: T; error?: string }) => {
      clearTimeout(timer)
      if (message.ok) resolve(message.result as T)
      else reject(new Error(message.error))
    })
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited with ${code} before answering`))
    })
  })
}

async function startServer(): Promise<{ url: string; proc: ChildProcess }> {
  const proc = fork(`${out}server.mjs`, [], { execArgv: [], stdio: 'inherit' })
  const url = await new Promise<string>((resolve, reject) => {
    proc.once('message', (message: { url: string }) => resolve(message.url))
    proc.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  return { url, proc }
}

/** Each adapter and the client it is measured against in the instructions phase. */
const INSTRUCTION_PAIRS: [adapter: string, reference: string][] = [
  ['session-fetch', 'bare-fetch'],
  ['session-fetch-undici', 'undici-request'],
  ['session-fetch-axios', 'axios-auth-refresh'],
]

/**
 * One client under valgrind's callgrind with counting off until the client asks for it (after its warm-up):
 * the instructions its measured calls took, per call. Other load does not change instruction counts, so this
 * resolves what the timed phases' spread hides; garbage collection and JIT timing still move them by a few %.
 */
function countInstructions(job: InstructionsJob): Promise<number> {
  const file = `${os.tmpdir()}/session-fetch-callgrind-${process.pid}-${job.contender}-${Date.now()}.out`
  const proc = spawn(
    'valgrind',
    ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${file}`, process.execPath]
      .concat(CLIENT_FLAGS)
      .concat([`${out}client.mjs`, JSON.stringify(job)]),
    { stdio: ['ignore', 'inherit', 'ignore', 'ipc'] },
  )
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 900_000)
    let answer: { ok: boolean; error?: string; result?: { failures: number } } | undefined
    proc.on('message', (message: { ask?: string; ok?: boolean }) => {
      if (message.ask) {
        const mode = message.ask === 'count-on' ? 'on' : 'off'
        spawnSync('callgrind_control', ['-i', mode, String(proc.pid)], { stdio: 'ignore' })
        proc.send('done')
      } else answer = message as typeof answer
    })
    proc.once('exit', () => {
      clearTimeout(timer)
      const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
      if (existsSync(file)) unlinkSync(file)
      const total = Number(/^totals: (\d+)/m.exec(text)?.[1] ?? Number.NaN)
      if (!answer?.ok || answer.result?.failures || !Number.isFinite(total))
        reject(
          new Error(
            `instructions ${job.contender}: ${answer?.error ?? `no count (${answer?.result?.failures ?? '?'} failures)`}`,
          ),
        )
      else resolve(total / job.requests)
    })
  })
}

async function instructionsPhase(url: string): Promise<Report['instructions']> {
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    log('instructions: valgrind is not installed; phase left out')
    return undefined
  }
  const wanted = INSTRUCTION_PAIRS.filter(
    ([adapter, ref]) => names.includes(adapter) && names.includes(ref),
  ).flat()
  const runs = Number(args['instruction-runs'])
  const requests = Number(args['instruction-requests'])
  const counts = new Map<string, number[]>(wanted.map((name) => [name, []]))
  // Two at a time (the machine's two cores): instruction counts do not depend on the load.
  const queue = Array.from({ length: runs }, () => wanted).flat()
  const next = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const job: InstructionsJob = {
        mode: 'instructions',
        contender: name,
        url,
        requests,
        concurrency: 16,
        warmup: Number(args['instruction-warmup']),
      }
      const perCall = await countInstructions(job)
      counts.get(name)?.push(perCall)
      log(`instructions ${name}: ${Math.round(perCall).toLocaleString('en')} per call`)
    }
  }
  await Promise.all([next(), next()])
  const rows: InstructionsRow[] = wanted.map((name) => ({
    name,
    reference: INSTRUCTION_PAIRS.find(([adapter]) => adapter === name)?.[1],
    perCall: counts.get(name) ?? [],
  }))
  return { runs, requests, warmup: Number(args['instruction-warmup']), rows }
}

/** The SVG charts beside RESULTS.md, from the report and the latency phase's samples. */
async function charts(report: Report): Promise<void> {
  const file = `${data}latency-samples.json`
  const samples = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LatencySamples) : undefined
  const written = await renderCharts(report, samples, here)
  log(`charts: ${written.join(', ') || 'none'}`)
}

/** The hand-written analysis appended to RESULTS.md. */
function notes(): string {
  return existsSync(`${here}notes.md`) ? readFileSync(`${here}notes.md`, 'utf8') : ''
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

async function steady(url: string): Promise<NonNullable<Report['steady']>> {
  const rounds = Number(args.rounds)
  const perRound: Record<string, SteadyResult>[] = []
  const job = (contender: string, requests: number, warmup: number): SteadyJob => ({
    mode: 'steady',
    contender,
    url,
    requests,
    concurrency: Number(args.concurrency),
    warmup,
  })
  // Warm the server's JIT before the first measured round.
  await child<SteadyResult>('client.mjs', [JSON.stringify(job(REFERENCE, 5000, 1000))], CLIENT_FLAGS, 300_000)
  for (let round = 0; round < rounds; round++) {
    // Interleaved: every round runs every contender once, starting at a different one.
    const order = names.map((_, i) => names[(i + round) % names.length] as string)
    const results: Record<string, SteadyResult> = {}
    for (const name of order) {
      const result = await child<SteadyResult>(
        'client.mjs',
        [JSON.stringify(job(name, Number(args.requests), Number(args.warmup)))],
        CLIENT_FLAGS,
        600_000,
      )
      results[name] = result
      log(
        `steady round ${round + 1}/${rounds} ${name}: ${Math.round((result.requests / result.elapsedMs) * 1000)} req/s, ` +
          `${(result.cpuUs / result.requests).toFixed(1)} µs CPU/req, ${result.failures} failures`,
      )
    }
    perRound.push(results)
  }
  const rows = names.map((name) => {
    const rps = perRound.map(
      (r) => ((r[name] as SteadyResult).requests / (r[name] as SteadyResult).elapsedMs) * 1000,
    )
    const cpu = perRound.map((r) => (r[name] as SteadyResult).cpuUs / (r[name] as SteadyResult).requests)
    const rpsRatio = perRound.map((r, i) => (rps[i] as number) / reference(r).rps)
    const cpuRatio = perRound.map((r, i) => (cpu[i] as number) / reference(r).cpu)
    const other = ALSO_AGAINST[name]
    const against =
      other && names.includes(other)
        ? {
            reference: other,
            throughputRatios: perRound.map((r, i) => (rps[i] as number) / reference(r, other).rps),
            cpuRatios: perRound.map((r, i) => (cpu[i] as number) / reference(r, other).cpu),
          }
        : undefined
    return {
      ...(against
        ? {
            against: {
              ...against,
              throughputRatio: median(against.throughputRatios),
              cpuRatio: median(against.cpuRatios),
            },
          }
        : {}),
      name,
      rps: median(rps),
      cpuUsPerRequest: median(cpu),
      throughputRatio: median(rpsRatio),
      cpuRatio: median(cpuRatio),
      throughputRatios: rpsRatio,
      cpuRatios: cpuRatio,
      failures: perRound.reduce((sum, r) => sum + (r[name] as SteadyResult).failures, 0),
    }
  })
  return { rounds, requests: Number(args.requests), concurrency: Number(args.concurrency), rows }
}

async function pairedPhase(url: string): Promise<NonNullable<Report['paired']>> {
  // undici from npm installs its own global dispatcher, which would change the platform's fetch for the rest.
  return pairedJob(
    url,
    names.filter((name) => !USES_UNDICI.has(name)),
    REFERENCE,
  )
}

/** The undici adapter against undici.request alone, in one process of their own. */
async function pairedUndiciPhase(url: string): Promise<NonNullable<Report['pairedUndici']> | undefined> {
  const together = names.filter((name) => USES_UNDICI.has(name))
  if (!together.includes('undici-request') || together.length < 2) return undefined
  return pairedJob(url, together, 'undici-request')
}

async function pairedJob(
  url: string,
  together: string[],
  referenceName: string,
): Promise<NonNullable<Report['paired']>> {
  const job: PairedJob = {
    mode: 'paired',
    contenders: together,
    url,
    batches: Number(args.batches),
    batchRequests: Number(args['batch-requests']),
    concurrency: Number(args.concurrency),
    warmup: Number(args.warmup),
  }
  const result = await child<PairedResult>('client.mjs', [JSON.stringify(job)], CLIENT_FLAGS, 1_800_000)
  const ref = result[referenceName] as PairedResult[string]
  const rows = together.map((name) => {
    const mine = result[name] as PairedResult[string]
    const throughputRatios = mine.elapsedMs.map((ms, i) => (ref.elapsedMs[i] as number) / ms)
    const cpuRatios = mine.cpuUs.map((us, i) => us / (ref.cpuUs[i] as number))
    return {
      name,
      rps: median(mine.elapsedMs.map((ms) => (job.batchRequests / ms) * 1000)),
      cpuUsPerRequest: median(mine.cpuUs.map((us) => us / job.batchRequests)),
      throughputRatio: median(throughputRatios),
      cpuRatio: median(cpuRatios),
      throughputRatios,
      cpuRatios,
      failures: mine.failures,
    }
  })
  log(
    `paired (÷ ${referenceName}): ${rows.map((r) => `${r.name} ${r.throughputRatio.toFixed(2)}/${r.cpuRatio.toFixed(2)}`).join(', ')}`,
  )
  return {
    batches: job.batches,
    batchRequests: job.batchRequests,
    concurrency: job.concurrency,
    reference: referenceName,
    rows,
  }
}

function reference(round: Record<string, SteadyResult>, name = REFERENCE): { rps: number; cpu: number } {
  const ref = round[name] as SteadyResult
  return { rps: (ref.requests / ref.elapsedMs) * 1000, cpu: ref.cpuUs / ref.requests }
}

async function storm(url: string): Promise<NonNullable<Report['storm']>> {
  const rounds = Number(args['storm-rounds'])
  const burst = Number(args.burst)
  const kinds = ['none', 'expired', 'revoked'] as const
  const runs: { name: string; kind: StormJob['kind']; round: number; result: StormResult }[] = []
  // The short run keeps to this package's adapters and the references (the peers, whose bursts mostly fail, run
  // with BENCH_FULL=1 or when named with --contenders).
  const stormNames =
    FULL || args.contenders !== Object.keys(contenders).join(',')
      ? names
      : names.filter((name) => NO_SESSION.has(name) || name.startsWith('session-fetch'))
  for (let round = 0; round < rounds; round++) {
    const order = stormNames.map((_, i) => stormNames[(i + round) % stormNames.length] as string)
    for (const name of order) {
      for (const kind of NO_SESSION.has(name) ? (['none'] as const) : kinds) {
        const job: StormJob = {
          mode: 'storm',
          contender: name,
          url,
          burst,
          kind,
          revokeAfter: Number(args['revoke-after']),
          expiringTtlSeconds: Number(args['storm-ttl']),
          timeoutMs: 120_000,
        }
        const result = await child<StormResult>('client.mjs', [JSON.stringify(job)], CLIENT_FLAGS, 300_000)
        runs.push({ name, kind, round, result })
        log(
          `storm round ${round + 1}/${rounds} ${name} ${kind}: ${Math.round(result.drainMs)} ms, ` +
            `${result.server.refreshCalls} refresh calls, ${result.failures} failures, ` +
            `${result.server.connections} new connections` +
            (result.firstError ? ` (${result.firstError})` : ''),
        )
      }
    }
  }
  const rtts = runs.flatMap((run) => (run.result.refreshRttMs === undefined ? [] : [run.result.refreshRttMs]))
  const refreshRtt = median(rtts)
  const rows = stormNames.flatMap((name) =>
    (NO_SESSION.has(name) ? (['none'] as const) : kinds).map((kind) => {
      const mine = runs.filter((run) => run.name === name && run.kind === kind)
      // Each case is compared with the burst without expiry of the same contender in the same round.
      const paired = mine.map((run) => {
        const ref = runs.find((r) => r.name === name && r.kind === 'none' && r.round === run.round)
        return { run: run.result, refDrainMs: ref?.result.drainMs ?? Number.NaN }
      })
      const results = mine.map((run) => run.result)
      const roundsWithin = paired.filter(
        ({ run, refDrainMs }) =>
          run.server.refreshCalls === 1 &&
          run.failures === 0 &&
          !run.timedOut &&
          run.drainMs <= (refDrainMs + refreshRtt) * 1.1,
      ).length
      return {
        name,
        kind,
        drainMs: median(results.map((r) => r.drainMs)),
        referenceDrainMs: median(paired.map((p) => p.refDrainMs)),
        drainRatio: median(paired.map((p) => p.run.drainMs / p.refDrainMs)),
        drainRatios: paired.map((p) => p.run.drainMs / p.refDrainMs),
        refreshRttMs: refreshRtt,
        roundsWithinTarget: roundsWithin,
        withinTarget: roundsWithin * 2 > paired.length,
        refreshCalls: results.map((r) => r.server.refreshCalls),
        refreshRejected: results.map((r) => r.server.refreshRejected),
        unauthorized: results.map((r) => r.server.unauthorized),
        apiCalls: results.map((r) => r.server.api),
        connections: results.map((r) => r.server.connections),
        refreshesBeforeBurst: results.map((r) => r.refreshesBeforeBurst),
        failures: results.map((r) => r.failures),
        timedOut: results.some((r) => r.timedOut),
        firstError: results.find((r) => r.firstError)?.firstError,
      }
    }),
  )
  return {
    rounds,
    burst,
    revokeAfter: Number(args['revoke-after']),
    ttlSeconds: Number(args['storm-ttl']),
    rows,
  }
}

/** Nearest-rank percentiles of latencies (ms). */
function stats(values: number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN }
}

async function latencyPhase(
  url: string,
): Promise<{ summary: NonNullable<Report['latency']>; samples: LatencySamples }> {
  const rounds = Number(args['latency-rounds'])
  const modes = ['ahead', 'blocking'] as const
  const base = {
    mode: 'latency' as const,
    url,
    rate: Number(args['latency-rate']),
    durationMs: Number(args['latency-duration']),
    warmup: 500,
    speed: 80,
    lifetimeSeconds: 120,
    refreshLatencyMs: 100,
  }
  const runs: Record<(typeof modes)[number], LatencyResult[]> = { ahead: [], blocking: [] }
  for (let round = 0; round < rounds; round++) {
    // Alternate which mode goes first, so neither always follows the other.
    for (const mode of round % 2 ? [...modes].reverse() : modes) {
      const job: LatencyJob = { ...base, refresh: mode }
      const result = await child<LatencyResult>('client.mjs', [JSON.stringify(job)], CLIENT_FLAGS, 300_000)
      runs[mode].push(result)
      const inside = stats(result.samples.filter((s) => s[2] === 1).map((s) => s[1]))
      const outside = stats(result.samples.filter((s) => s[2] === 0).map((s) => s[1]))
      log(
        `latency round ${round + 1}/${rounds} ${mode}: ${result.refreshes} refreshes, ${result.failures} failures; ` +
          `inside the window p50 ${inside.p50} p99 ${inside.p99} max ${inside.max} ms (${inside.n}), ` +
          `outside p50 ${outside.p50} p99 ${outside.p99} max ${outside.max} ms (${outside.n}); ` +
          `event-loop delay p99 ${result.loopDelay.p99.toFixed(1)} max ${result.loopDelay.max.toFixed(1)} ms`,
      )
    }
  }
  const rows = modes.map((mode) => {
    const perRound = runs[mode].map((result) => ({
      inside: stats(result.samples.filter((s) => s[2] === 1).map((s) => s[1])),
      outside: stats(result.samples.filter((s) => s[2] === 0).map((s) => s[1])),
      refreshes: result.refreshes,
      failures: result.failures,
      loopDelayMaxMs: result.loopDelay.max,
    }))
    const all = runs[mode].flatMap((result) => result.samples)
    const p99Ratios = perRound.map((r) => r.inside.p99 / r.outside.p99)
    return {
      mode,
      rounds: perRound,
      inside: stats(all.filter((s) => s[2] === 1).map((s) => s[1])),
      outside: stats(all.filter((s) => s[2] === 0).map((s) => s[1])),
      p99Ratios,
      p99Ratio: median(p99Ratios),
      firstError: runs[mode].find((r) => r.firstError)?.firstError,
    }
  })
  const { mode: _mode, url: _url, ...settings } = base
  return {
    summary: { ...settings, rounds, refreshWindowMs: 30_000, mustRefreshMs: 5_000, rows },
    samples: { ahead: runs.ahead[0]?.samples ?? [], blocking: runs.blocking[0]?.samples ?? [] },
  }
}

async function memory(): Promise<MemoryResult> {
  const total = Number(args['memory-requests'])
  const result = await child<MemoryResult>(
    'memory.mjs',
    [String(total)],
    [...CLIENT_FLAGS, '--expose-gc'],
    1_800_000,
  )
  log(`memory: ${JSON.stringify(result.checkpoints)}`)
  return result
}

async function main(): Promise<void> {
  mkdirSync(data, { recursive: true })
  if (args.only === 'render') {
    // Re-render RESULTS.md from the last results.json (after editing bench/report.ts).
    const saved = JSON.parse(readFileSync(`${data}results.json`, 'utf8')) as Report
    await charts(saved)
    writeFileSync(`${here}RESULTS.md`, renderResults(saved, notes()))
    return
  }
  await bundle()
  if (args.only === 'build') return // for profiling: node --cpu-prof bench/.build/client.mjs '<job>'
  const report: Report = {
    date: new Date().toISOString(),
    node: process.version,
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
    loadAverage: os.loadavg(),
    clientFlags: CLIENT_FLAGS,
  }
  if (phases.has('size')) {
    report.size = await sizes()
    log('size: done')
  }
  if (phases.has('memory')) report.memory = await memory()
  if (phases.has('overhead')) {
    report.overhead = await child<OverheadResult>(
      'overhead.mjs',
      [args['overhead-calls'], FULL ? '7' : '5'],
      CLIENT_FLAGS,
      900_000,
    )
    log(`overhead: ${JSON.stringify(report.overhead)}`)
  }
  if (['steady', 'paired', 'latency', 'storm', 'instructions'].some((phase) => phases.has(phase))) {
    const server = await startServer()
    try {
      if (phases.has('steady')) report.steady = await steady(server.url)
      if (phases.has('paired')) {
        report.paired = await pairedPhase(server.url)
        report.pairedUndici = await pairedUndiciPhase(server.url)
      }
      if (phases.has('latency')) {
        const { summary, samples } = await latencyPhase(server.url)
        report.latency = summary
        writeFileSync(`${data}latency-samples.json`, `${JSON.stringify(samples)}\n`)
      }
      if (phases.has('storm')) report.storm = await storm(server.url)
      if (phases.has('instructions')) report.instructions = await instructionsPhase(server.url)
    } finally {
      server.proc.kill()
    }
  }
  report.loadAverageAfter = os.loadavg()
  for (const phase of phases) report.sectionDates = { ...report.sectionDates, [phase]: report.date }
  // A partial run (--only) keeps the other sections of the last results.json.
  const merged = existsSync(`${data}results.json`)
    ? { ...(JSON.parse(readFileSync(`${data}results.json`, 'utf8')) as Report), ...report }
    : report
  if (existsSync(`${data}results.json`)) {
    const previous = JSON.parse(readFileSync(`${data}results.json`, 'utf8')) as Report
    merged.sectionDates = { ...previous.sectionDates, ...report.sectionDates }
    // With --contenders, a table keeps the previous rows of the contenders that did not run.
    const key = (row: { name: string; kind?: string }) => `${row.name}/${row.kind ?? ''}`
    for (const section of ['steady', 'paired', 'storm'] as const) {
      const now = report[section]
      const before = previous[section]
      if (!now || !before || args.contenders === Object.keys(contenders).join(',')) continue
      const fresh = new Set(now.rows.map(key))
      const rows = before.rows.map((row) =>
        fresh.has(key(row)) ? now.rows.find((r) => key(r) === key(row)) : row,
      )
      for (const row of now.rows) if (!before.rows.some((r) => key(r) === key(row))) rows.push(row)
      ;(now as { rows: unknown[] }).rows = rows
    }
  }
  writeFileSync(`${data}results.json`, `${JSON.stringify(merged, null, 2)}\n`)
  await charts(merged)
  writeFileSync(`${here}RESULTS.md`, renderResults(merged, notes()))
  log(`wrote ${here}RESULTS.md`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
