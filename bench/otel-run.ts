// `npm run bench:otel`: what `instrumentation: otel()` costs a request when no SDK is installed (the OpenTelemetry
// API's no-op providers), each measurement in processes of its own (bench/otel-child.ts), rounds alternating their
// order; medians with the per-round spread [min–max]. Writes bench/out/otel.json and prints the table that
// docs/observability.md keeps.
// Options: --rounds 9  --requests 20000  --warmup 3000  --concurrency 16  --calls 20000  --batches 12
import { fork } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'

const here = fileURLToPath(new URL('.', import.meta.url))
const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'http,stub,hook' },
    rounds: { type: 'string', default: '9' },
    requests: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '16' },
    calls: { type: 'string', default: '20000' },
    batches: { type: 'string', default: '40' },
    'hook-calls': { type: 'string', default: '2000000' },
  },
})
const phases = new Set(args.only.split(','))

mkdirSync(`${here}.build`, { recursive: true })
const bundle = (name: string) => `${here}.build/${name}-${process.pid}.mjs`
for (const name of ['otel-child', 'server']) {
  await build({
    entryPoints: [`${here}${name}.ts`],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle(name),
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'silent',
  })
}

function child<T>(job: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = fork(bundle('otel-child'), [JSON.stringify(job)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    proc.once('message', (message: { ok: boolean; result?: T; error?: string }) =>
      message.ok ? resolve(message.result as T) : reject(new Error(message.error)),
    )
    proc.once('exit', (code) => {
      if (code !== 0) reject(new Error(`bench child exited with ${code}`))
    })
  })
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
const spread = (values: number[], digits = 3) =>
  `${median(values).toFixed(digits)} [${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}]`

const out: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  loadBefore: os.loadavg(),
}
const table: string[] = []

if (phases.has('http')) {
  const server = fork(bundle('server'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const url = await new Promise<string>((resolve, reject) => {
    server.once('message', (message: { url: string }) => resolve(message.url))
    server.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const variants = ['plain', 'otel', 'loaded'] as const
  const perRound: Record<string, number>[] = []
  try {
    for (let round = 0; round < Number(args.rounds); round++) {
      const order = variants.map(
        (_, i) => variants[(i + round) % variants.length] as (typeof variants)[number],
      )
      const got: Record<string, { cpuUsPerRequest: number; requestsPerSecond: number }> = {}
      for (const variant of order) {
        got[variant] = await child({
          mode: 'http',
          variant,
          url,
          requests: Number(args.requests),
          warmup: Number(args.warmup),
          concurrency: Number(args.concurrency),
        })
      }
      const cpu = (name: string) => got[name]?.cpuUsPerRequest as number
      const row = {
        plainUs: cpu('plain'),
        otelUs: cpu('otel'),
        loadedUs: cpu('loaded'),
        otelRatio: cpu('otel') / cpu('plain'),
        loadedRatio: cpu('loaded') / cpu('plain'),
        otelVsLoaded: cpu('otel') / cpu('loaded'),
      }
      perRound.push(row)
      console.log(`http round ${round + 1} (${order.join(', ')}): ${JSON.stringify(row)}`)
    }
  } finally {
    server.kill()
  }
  const pick = (key: string) => perRound.map((row) => row[key] as number)
  out.http = { ...args, perRound }
  table.push(
    `CPU per request over loopback HTTP, separate processes (${args.requests} requests after ${args.warmup}, ${args.concurrency} in flight, ${args.rounds} rounds):`,
    '',
    '| client | µs CPU per request | × without |',
    '| --- | --- | --- |',
    `| without \`instrumentation\` | ${spread(pick('plainUs'), 1)} | 1 |`,
    `| \`otel()\`, no SDK (the API's no-op providers) | ${spread(pick('otelUs'), 1)} | ${spread(pick('otelRatio'))} |`,
    `| control: \`@opentelemetry/api\` loaded, no \`instrumentation\` | ${spread(pick('loadedUs'), 1)} | ${spread(pick('loadedRatio'))} |`,
    `| \`otel()\` ÷ the control | | ${spread(pick('otelVsLoaded'))} |`,
    '',
  )
}

if (phases.has('stub')) {
  const got = await child<{ plainUs: number[]; otelUs: number[]; ratios: number[] }>({
    mode: 'stub',
    calls: Number(args.calls),
    batches: Number(args.batches),
  })
  out.stub = { ...got, calls: Number(args.calls), batches: Number(args.batches) }
  table.push(
    `CPU per call without network (a transport that answers at once), one process, ${args.batches} alternating batches of ${args.calls} calls:`,
    '',
    '| client | µs CPU per call | × without |',
    '| --- | --- | --- |',
    `| without \`instrumentation\` | ${spread(got.plainUs, 2)} | 1 |`,
    `| \`otel()\`, no SDK | ${spread(got.otelUs, 2)} | ${spread(got.ratios)} |`,
    '',
  )
}

if (phases.has('hook')) {
  const got = await child<{ plainUs: number[]; otelUs: number[]; ratios: number[] }>({
    mode: 'hook',
    calls: Number(args['hook-calls']),
    batches: Number(args.batches),
  })
  const added = got.otelUs.map((ns, i) => ns - (got.plainUs[i] as number))
  out.hook = { ...got, addedNs: added, calls: Number(args['hook-calls']), batches: Number(args.batches) }
  table.push(
    `What it adds to every request in steady state: the pipeline's \`tokenFor\` (once per request, every adapter), one process, ${args.batches} alternating batches of ${args['hook-calls']} calls:`,
    '',
    '| client | ns CPU per call |',
    '| --- | --- |',
    `| without \`instrumentation\` | ${spread(got.plainUs, 1)} |`,
    `| \`otel()\`, no SDK | ${spread(got.otelUs, 1)} |`,
    `| added by \`otel()\` | ${spread(added, 1)} |`,
    '',
  )
}

out.loadAfter = os.loadavg()
mkdirSync(`${here}out`, { recursive: true })
writeFileSync(`${here}out/otel.json`, `${JSON.stringify(out, null, 2)}\n`)
console.log(
  `\nload average before ${(out.loadBefore as number[]).map((n) => n.toFixed(2)).join(' ')}, after ${os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}\n`,
)
console.log(table.join('\n'))
