// One benchmark client run, in its own process (forked by bench/run.ts with the same Node flags for every
// contender). It reads its job from argv[2] (JSON), sends one result over IPC and exits.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createSessionFetch } from '../src/index.js'
import { loadContender } from './contenders/index.js'
import { type Client, RESOURCE } from './contenders/types.js'

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
   * proactive refresh is due (at half the lifetime), so the one refresh falls into the measured burst. Nobody
   * waits for it: before the measured burst the client's clock moves this long (+300 ms) ahead and the server
   * ends every token.
   */
  expiringTtlSeconds: number
  timeoutMs: number
}

/**
 * Instructions per request: bench/run.ts runs this client under valgrind's callgrind with counting off; after
 * the warm-up the client asks for counting to be switched on, makes `requests` calls and asks for it to be
 * switched off again, so the count holds the measured calls only.
 */
export interface InstructionsJob {
  mode: 'instructions'
  contender: string
  url: string
  requests: number
  concurrency: number
  warmup: number
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

/**
 * A steady stream of GETs through `plantly.fetch` (open loop: `rate` calls per second whatever the answers do)
 * across several proactive refreshes, each answered by the server after `refreshLatencyMs`. The client's clock
 * (the `now` option) runs `speed` times faster than the real one, so that tokens of `lifetimeSeconds` with the
 * default 30 s refresh window and 5 s must-refresh margin expire every few real seconds; the server keeps the
 * tokens valid for their real lifetime, so no call gets a 401.
 * - `ahead`: the defaults (refresh-ahead: a call inside the window starts the refresh and is sent at once).
 * - `blocking`: `mustRefreshMs` equal to `refreshWindowMs`: every call inside the window waits for the refresh.
 */
export interface LatencyJob {
  mode: 'latency'
  refresh: 'ahead' | 'blocking'
  url: string
  rate: number
  durationMs: number
  warmup: number
  speed: number
  lifetimeSeconds: number
  refreshLatencyMs: number
}

export interface LatencyResult {
  /** One entry per call: ms since the measured stream started, latency in ms, 1 if sent inside the refresh window. */
  samples: [number, number, 0 | 1][]
  /** Refreshes during the measured stream. */
  refreshes: number
  failures: number
  firstError: string | undefined
  /** The client's event-loop delay during the stream (ms): how much of a latency was the loaded machine. */
  loopDelay: { p99: number; max: number }
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

/** Ask bench/run.ts for something (switch callgrind's counting) and wait until it is done. */
function ask(what: 'count-on' | 'count-off'): Promise<void> {
  return new Promise((resolve) => {
    process.once('message', () => resolve())
    process.send?.({ ask: what })
  })
}

async function instructions(job: InstructionsJob): Promise<{ failures: number; requests: number }> {
  const contender = await loadContender(job.contender)
  const client = await contender.create({ url: job.url, credentials: CREDENTIALS })
  await pool(client, job.warmup, job.concurrency)
  await ask('count-on')
  const failures = await pool(client, job.requests, job.concurrency)
  await ask('count-off')
  return { failures, requests: job.requests }
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
  let skew = 0
  const now = () => Date.now() + skew
  const client = await contender.create({ url: job.url, credentials: CREDENTIALS, now })
  await control(job.url, 'ttl?seconds=3600') // the refreshed tokens live long: one expiry per burst
  await control(job.url, 'reset')
  // Warm-up, unmeasured: a burst of the same size opens the connections the measured one reuses, so the
  // measurement is about the clients and not about 10,000 TCP handshakes on a loaded machine.
  await Promise.all(Array.from({ length: job.burst }, () => client.get().catch(() => undefined)))
  const before = await control(job.url, 'counts')
  await control(job.url, 'reset')
  if (job.kind === 'revoked') await control(job.url, `expire?after=${job.revokeAfter}`)
  if (job.kind === 'expired') {
    // The token's lifetime passes at once, on both sides: this package's clients read it off their clock (as
    // they would from `expires_in` after the real wait), and the server refuses every token it issued, so
    // the peers get their 401s. The reference and `revoked` start their bursts as soon after the warm-up.
    skew = job.expiringTtlSeconds * 1000 + 300
    await control(job.url, 'expire')
  }
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

/** The refresh window of the defaults (`refreshWindowMs`), in the client's (virtual) ms. */
const REFRESH_WINDOW_MS = 30_000

async function latency(job: LatencyJob): Promise<LatencyResult> {
  await control(job.url, `ttl?seconds=${job.lifetimeSeconds}`)
  await control(job.url, `refresh-latency?ms=${job.refreshLatencyMs}`)
  const epoch = Date.now()
  const origin = performance.now()
  const now = () => epoch + (performance.now() - origin) * job.speed
  const plantly = createSessionFetch({
    baseURL: job.url,
    now,
    ...(job.refresh === 'blocking' ? { mustRefreshMs: REFRESH_WINDOW_MS } : {}),
  })
  // Where the current token's refresh window starts, on the client's clock (the same formula as the core's).
  let windowStart = Number.POSITIVE_INFINITY
  let refreshes = 0
  const track = ({ session }: { session: { expires_in?: number } }) => {
    const lifetime = (session.expires_in ?? job.lifetimeSeconds) * 1000
    windowStart = now() + lifetime - Math.min(REFRESH_WINDOW_MS, lifetime / 2)
  }
  plantly.on('login', track)
  plantly.on('refresh', (event) => {
    refreshes++
    track(event)
  })
  try {
    await plantly.login(CREDENTIALS)
    const get = async () => {
      const response = await plantly.fetch(RESOURCE)
      if (response.status !== 200) {
        await response.body?.cancel()
        throw new Error(`status ${response.status}`)
      }
      await response.json()
    }
    // Unmeasured warm-up (JIT, connections), well before the first refresh window opens. It includes one
    // refresh, so the first measured one does not carry the one-time compile of the session-call code.
    await pool({ get }, job.warmup, 16)
    await plantly.refresh()
    await pool({ get }, job.warmup, 16)
    refreshes = 0
    const samples: LatencyResult['samples'] = []
    let failures = 0
    let firstError: string | undefined
    const calls: Promise<void>[] = []
    const loop = monitorEventLoopDelay({ resolution: 5 })
    loop.enable()
    const start = performance.now()
    let sent = 0
    for (;;) {
      const elapsed = performance.now() - start
      if (elapsed >= job.durationMs) break
      const due = Math.floor((elapsed * job.rate) / 1000)
      while (sent < due) {
        sent++
        const at = performance.now()
        const inside = now() >= windowStart ? 1 : 0
        calls.push(
          get().then(
            () => {
              samples.push([
                Math.round((at - start) * 10) / 10,
                Math.round((performance.now() - at) * 100) / 100,
                inside,
              ])
            },
            (error: unknown) => {
              failures++
              firstError ??= String(error).slice(0, 160)
            },
          ),
        )
      }
      await sleep(1)
    }
    await Promise.all(calls)
    loop.disable()
    samples.sort((a, b) => a[0] - b[0])
    const loopDelay = { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 }
    return { samples, refreshes, failures, firstError, loopDelay }
  } finally {
    await control(job.url, 'ttl?seconds=3600')
    await control(job.url, 'refresh-latency?ms=0')
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as
  | SteadyJob
  | StormJob
  | PairedJob
  | LatencyJob
  | InstructionsJob
const run =
  job.mode === 'steady'
    ? steady(job)
    : job.mode === 'instructions'
      ? instructions(job)
      : job.mode === 'paired'
        ? paired(job)
        : job.mode === 'latency'
          ? latency(job)
          : storm(job)
run.then(
  (result) => {
    process.send?.({ ok: true, result }, () => process.exit(0))
  },
  (error: unknown) => {
    process.send?.({ ok: false, error: String(error) }, () => process.exit(1))
  },
)
