// One measurement of `instrumentation: otel()`'s cost, in a process of its own, forked by bench/otel-run.ts.
// argv[2] is a JSON job; the result goes back over IPC. Variants: `plain` (no instrumentation), `otel` (otel() on
// the OpenTelemetry API's default no-op providers: what an application that installs no SDK gets), `loaded`
// (the same @opentelemetry/api imported, no instrumentation: the control for loading it). Modes:
//   http     CPU µs per request over loopback HTTP (the bench server), `requests` after `warmup`, `concurrency`
//            in flight; one variant per process.
//   stub     CPU µs per call, no network (a transport that answers at once); both `plain` and `otel` in one
//            process, in alternating batches, so that both run in the same JIT and GC state.
//   hook     CPU ns of what the instrumentation adds to every request in steady state: the pipeline's `tokenFor`
//            (which every adapter calls once per request) of the two clients above, called `calls` times per
//            batch in alternating batches.
import { pipelineOf } from '../src/adapters/shared/pipeline-registry.js'
import { createSessionFetch, type SessionFetch } from '../src/index.js'
import type { Instrumentation } from '../src/otel/index.js'

type Variant = 'plain' | 'otel' | 'loaded'
type Job =
  | { mode: 'http'; variant: Variant; url: string; requests: number; warmup: number; concurrency: number }
  | { mode: 'stub' | 'hook'; calls: number; batches: number }

const CREDENTIALS = { email_address: 'demo@plantly.test', password: 'plantly' }
const job = JSON.parse(process.argv[2] ?? '{}') as Job

// Imported only by the variants that use them (a bundle evaluates a module imported with import() only then): the
// `plain` process has nothing of OpenTelemetry in it.
let instrumentation: Instrumentation | undefined
async function prepare(variant: Variant): Promise<void> {
  if (variant === 'otel') instrumentation = (await import('../src/otel/index.js')).otel()
  if (variant === 'loaded') (await import('@opentelemetry/api')).trace.getTracerProvider().getTracer('app')
}

function client(variant: Variant, baseURL: string, fetch?: typeof globalThis.fetch): SessionFetch {
  return createSessionFetch({
    baseURL,
    ...(fetch ? { fetch } : {}),
    ...(variant === 'otel' && instrumentation ? { instrumentation } : {}),
  })
}

const cpuUs = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

async function drive(plantly: SessionFetch, requests: number, concurrency: number): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < requests) {
      next++
      const response = await plantly.fetch('/plants/42')
      if (response.status !== 200) throw new Error(`status ${response.status}`)
      await response.arrayBuffer()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

async function http(job: Extract<Job, { mode: 'http' }>) {
  await prepare(job.variant)
  const plantly = client(job.variant, job.url)
  await plantly.login(CREDENTIALS)
  await drive(plantly, job.warmup, job.concurrency)
  const start = cpuUs()
  const began = performance.now()
  await drive(plantly, job.requests, job.concurrency)
  const cpu = cpuUs() - start
  const elapsedMs = performance.now() - began
  await plantly.close()
  return { cpuUsPerRequest: cpu / job.requests, requestsPerSecond: (job.requests / elapsedMs) * 1000 }
}

async function stub(job: Extract<Job, { mode: 'stub' | 'hook' }>) {
  const BODY = JSON.stringify({ id: 42 })
  const session = JSON.stringify({
    type: 'auth.session',
    token_type: 'bearer',
    access_token: 'a'.repeat(44),
    refresh_token: 'r'.repeat(44),
    expires_in: 3600,
  })
  const transport: typeof fetch = async (input) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (url.endsWith('/auth/sessions'))
      return new Response(session, { status: 201, headers: { 'content-type': 'application/json' } })
    return new Response(BODY, { status: 200, headers: { 'content-type': 'application/json' } })
  }
  const clients = {
    plain: client('plain', 'http://plantly.bench', transport),
    otel: client('otel', 'http://plantly.bench', transport),
  }
  for (const plantly of Object.values(clients)) await plantly.login(CREDENTIALS)
  const batch =
    job.mode === 'hook'
      ? async (plantly: SessionFetch) => {
          const pipeline = pipelineOf(plantly, 'client')
          let sent = 0
          const start = cpuUs()
          for (let i = 0; i < job.calls; i++) if (pipeline.tokenFor() !== undefined) sent++
          const perCall = ((cpuUs() - start) / job.calls) * 1000 // ns
          if (sent !== job.calls) throw new Error('a token was missing')
          return perCall
        }
      : async (plantly: SessionFetch) => {
          const start = cpuUs()
          for (let i = 0; i < job.calls; i++) await (await plantly.fetch('/plants/42')).arrayBuffer()
          return (cpuUs() - start) / job.calls
        }
  for (const plantly of Object.values(clients)) await batch(plantly) // warm-up
  const ratios: number[] = []
  const plainUs: number[] = []
  const otelUs: number[] = []
  for (let i = 0; i < job.batches; i++) {
    // Alternate which goes first.
    const [a, b] = i % 2 === 0 ? (['plain', 'otel'] as const) : (['otel', 'plain'] as const)
    const first = await batch(clients[a])
    const second = await batch(clients[b])
    const plain = a === 'plain' ? first : second
    const instrumented = a === 'otel' ? first : second
    plainUs.push(plain)
    otelUs.push(instrumented)
    ratios.push(instrumented / plain)
  }
  return { plainUs, otelUs, ratios }
}

try {
  const result = job.mode === 'http' ? await http(job) : await stub(job)
  process.send?.({ ok: true, result })
} catch (error) {
  process.send?.({ ok: false, error: String((error as Error)?.stack ?? error) })
}
process.exit(0)
