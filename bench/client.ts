// One benchmark client run, in its own process (forked by bench/run.ts with the same Node flags for every
// contender). It reads its job from argv[2] (JSON), sends one result over IPC and exits.
import { loadContender } from './contenders/index.js'
import type { Client } from './contenders/types.js'

export interface SteadyJob {
  mode: 'steady'
  contender: string
  url: string
  requests: number
  concurrency: number
  warmup: number
}

/**
 * `none`: a burst with a valid token (the reference). `expired`: the token's lifetime (known to the client from
 * `expires_in` and the JWT) has just ended when the burst starts. `revoked`: the server ends the token after
 * `revokeAfter` answers of the burst, which the client cannot know: every call still in flight gets a 401.
 */
export interface StormJob {
  mode: 'storm'
  contender: string
  url: string
  burst: number
  kind: 'none' | 'expired' | 'revoked'
  revokeAfter: number
  /**
   * Token lifetime in seconds for `expired`: long enough for the warm-up burst to end before this package's
   * proactive refresh is due (at half the lifetime), so the one refresh falls into the measured burst. Every
   * case starts its measured burst this long (+300 ms) after the login.
   */
  expiringTtlSeconds: number
  timeoutMs: number
}

/**
 * Several contenders in one process, in alternating batches (A B C A B C …): the ratios then share the JIT,
 * the heap and the machine's load of the moment, which separate processes do not. Contenders that replace
 * the platform's global dispatcher (undici from npm) must not be mixed in.
 */
export interface PairedJob {
  mode: 'paired'
  contenders: string[]
  url: string
  batches: number
  batchRequests: number
  concurrency: number
  warmup: number
}

/** Per contender, one figure per batch. */
export type PairedResult = Record<string, { cpuUs: number[]; elapsedMs: number[]; failures: number }>

export interface SteadyResult {
  elapsedMs: number
  cpuUs: number
  failures: number
  requests: number
}

export interface ServerCounts {
  api: number
  unauthorized: number
  logins: number
  refreshCalls: number
  refreshRejected: number
  /** TCP connections the server accepted. */
  connections: number
}

export interface StormResult {
  drainMs: number
  failures: number
  timedOut: boolean
  server: ServerCounts
  /** Median of 5 sequential refresh round trips (PUT /auth/sessions with bare fetch), measured after a `none` burst. */
  refreshRttMs: number | undefined
  /** Refresh calls the server saw before the measured burst (must be 0, or the case did not happen). */
  refreshesBeforeBurst: number
  firstError: string | undefined
}

const CREDENTIALS = { email_address: 'demo@plantly.test', password: 'plantly' }

async function control(url: string, action: string): Promise<ServerCounts> {
  const response = await fetch(`${url}/__bench/${action}`, { method: 'POST' })
  return (await response.json()) as ServerCounts
}

/** `total` calls, at most `concurrency` at a time. */
async function pool(client: Client, total: number, concurrency: number): Promise<number> {
  let started = 0
  let failures = 0
  async function worker(): Promise<void> {
    while (started < total) {
      started++
      try {
        await client.get()
      } catch {
        failures++
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker))
  return failures
}

async function steady(job: SteadyJob): Promise<SteadyResult> {
  const contender = await loadContender(job.contender)
  const client = await contender.create({ url: job.url, credentials: CREDENTIALS })
  await pool(client, job.warmup, job.concurrency)
  const cpu = process.cpuUsage()
  const start = performance.now()
  const failures = await pool(client, job.requests, job.concurrency)
  const elapsedMs = performance.now() - start
  const used = process.cpuUsage(cpu)
  return { elapsedMs, cpuUs: used.user + used.system, failures, requests: job.requests }
}

async function paired(job: PairedJob): Promise<PairedResult> {
  const clients: [string, Client][] = []
  for (const name of job.contenders) {
    const contender = await loadContender(name)
    clients.push([name, await contender.create({ url: job.url, credentials: CREDENTIALS })])
  }
  const result: PairedResult = {}
  for (const [name, client] of clients) {
    await pool(client, job.warmup, job.concurrency)
    result[name] = { cpuUs: [], elapsedMs: [], failures: 0 }
  }
  for (let batch = 0; batch < job.batches; batch++) {
    // Rotate the order, so no contender always runs right after the same one.
    for (let i = 0; i < clients.length; i++) {
      const [name, client] = clients[(i + batch) % clients.length] as [string, Client]
      const entry = result[name] as PairedResult[string]
      const cpu = process.cpuUsage()
      const start = performance.now()
      entry.failures += await pool(client, job.batchRequests, job.concurrency)
      entry.elapsedMs.push(performance.now() - start)
      const used = process.cpuUsage(cpu)
      entry.cpuUs.push(used.user + used.system)
    }
  }
  return result
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function refreshRtt(url: string): Promise<number> {
  const login = await fetch(`${url}/auth/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(CREDENTIALS),
  })
  let { refresh_token } = (await login.json()) as { refresh_token: string }
  const times: number[] = []
  for (let i = 0; i < 5; i++) {
    const start = performance.now()
    const answer = await fetch(`${url}/auth/sessions`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${refresh_token}` },
    })
    refresh_token = ((await answer.json()) as { refresh_token: string }).refresh_token
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return times[2] as number
}

async function storm(job: StormJob): Promise<StormResult> {
  const contender = await loadContender(job.contender)
  if (job.kind === 'expired') await control(job.url, `ttl?seconds=${job.expiringTtlSeconds}`)
  const loggedInAt = performance.now()
  const client = await contender.create({ url: job.url, credentials: CREDENTIALS })
  await control(job.url, 'ttl?seconds=3600') // the refreshed tokens live long: one expiry per burst
  await control(job.url, 'reset')
  // Warm-up, unmeasured: a burst of the same size opens the connections the measured one reuses, so the
  // measurement is about the clients and not about 10,000 TCP handshakes on a loaded machine.
  await Promise.all(Array.from({ length: job.burst }, () => client.get().catch(() => undefined)))
  // Every case waits the same time before its measured burst (V8 and the sockets idle alike), so the
  // reference differs from `expired` only in the expiry.
  const wait = job.expiringTtlSeconds * 1000 + 300 - (performance.now() - loggedInAt)
  if (wait > 0) await sleep(wait)
  const before = await control(job.url, 'counts')
  await control(job.url, 'reset')
  if (job.kind === 'revoked') await control(job.url, `expire?after=${job.revokeAfter}`)
  let failures = 0
  let firstError: string | undefined
  const start = performance.now()
  const calls = Array.from({ length: job.burst }, () =>
    client.get().catch((error: unknown) => {
      failures++
      firstError ??= error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 160) : String(error)
    }),
  )
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([
    Promise.all(calls).then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), job.timeoutMs)
    }),
  ])
  clearTimeout(timer)
  const drainMs = performance.now() - start
  const server = await control(job.url, 'counts')
  const rtt = job.kind === 'none' ? await refreshRtt(job.url) : undefined
  return {
    drainMs,
    failures,
    timedOut,
    server,
    refreshRttMs: rtt,
    refreshesBeforeBurst: before.refreshCalls,
    firstError,
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as SteadyJob | StormJob | PairedJob
const run = job.mode === 'steady' ? steady(job) : job.mode === 'paired' ? paired(job) : storm(job)
run.then(
  (result) => {
    process.send?.({ ok: true, result }, () => process.exit(0))
  },
  (error: unknown) => {
    process.send?.({ ok: false, error: String(error) }, () => process.exit(1))
  },
)
