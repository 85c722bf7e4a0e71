// One measurement of the server side (session-fetch/server), in a process of its own, forked by bench/server-run.ts
// (node --import tsx). argv[2] is a JSON job; the result goes back over IPC. Modes:
//   cpu     CPU µs per call, in-process stub transport (no network), of: the stub called directly with a fixed
//           header (bare), and `contender`: one client's fetch (`client`) or `pool.for(key).fetch` over `users`
//           keys taken in turn (`pool`). Interleaved with the bare loop in the same process.
//   memory  heap per live client of a pool of `clients` users with memory stores, each logged in and one request
//           made, minus the heap of the same users' token strings alone (run with --expose-gc).
//   pair    CPU µs per call of one client's `fetch` and of `pool.for(key).fetch` (the same user's key, and keys
//           taken in turn over `users` users), all in one process, in alternating batches: the pool's own cost,
//           in one JIT and GC state, which separate processes cannot resolve.
//   storm   `users` users × `perUser` concurrent requests through one pool against the mock over HTTP (the
//           parent's, at `url`): once with good tokens, once after the pool's clock passed their expiry.
import { Agent, fetch as undiciFetch } from 'undici'
import { createSessionFetch } from '../src/index.js'
import { sessionPool } from '../src/server/index.js'
import { STUB_BASE, stubApi, tokensAlone } from './stub-api.js'

type Job =
  | {
      mode: 'cpu'
      contender: 'client' | 'clients' | 'pool'
      calls: number
      users: number
      /** Under valgrind: count instructions of `calls` calls after `warmup` (no timing). */
      instructions?: boolean
      warmup?: number
    }
  | { mode: 'memory'; clients: number; max: number }
  | { mode: 'pair'; calls: number; batches: number; users: number }
  | { mode: 'storm'; url: string; users: number; perUser: number }

const BASE = STUB_BASE
const api = stubApi()
const stub = api.fetch

const credentials = (user: string) => ({ email_address: user, password: 'x' })

async function loop(call: (i: number) => Promise<Response>, calls: number): Promise<number> {
  const start = process.cpuUsage()
  for (let i = 0; i < calls; i++) {
    const response = await call(i)
    if (response.status !== 200) throw new Error(`status ${response.status}`)
    await response.text()
  }
  const used = process.cpuUsage(start)
  return (used.user + used.system) / calls
}

async function cpu(job: Extract<Job, { mode: 'cpu' }>) {
  const keys = Array.from({ length: job.users }, (_, i) => `user-${i}`)
  let contender: (i: number) => Promise<Response>
  let bareToken: string
  if (job.contender === 'client') {
    const client = createSessionFetch({ baseURL: BASE, fetch: stub })
    bareToken = (await client.login(credentials('user-0'))).access_token
    contender = () => client.fetch('/plants/42')
  } else if (job.contender === 'clients') {
    // As many separate clients as the pool has users, taken in turn: what touching that many clients costs
    // without a pool (their memory is not in the processor's caches as one client's is).
    const clients = keys.map(() => createSessionFetch({ baseURL: BASE, fetch: stub }))
    for (const [i, client] of clients.entries()) await client.login(credentials(keys[i] as string))
    bareToken = (await clients[0]?.getSession())?.access_token as string
    contender = (i) => (clients[i % clients.length] as (typeof clients)[number]).fetch('/plants/42')
  } else {
    const pool = sessionPool({ baseURL: BASE, fetch: stub })
    for (const key of keys) await pool.for(key).login(credentials(key))
    bareToken = (await pool.for('user-0').getSession())?.access_token as string
    contender = (i) => pool.for(keys[i % keys.length] as string).fetch('/plants/42')
  }
  const headers = { authorization: `Bearer ${bareToken}` }
  const bare = () => stub(`${BASE}/plants/42`, { headers })
  if (job.instructions) {
    // Under callgrind: warm up, then count the contender's calls only (the runner turns counting on and off).
    await loop(contender, job.warmup ?? 8_000)
    await ask('count-on')
    await loop(contender, job.calls)
    await ask('count-off')
    return { bareUs: 0, contenderUs: 0 }
  }
  await loop(bare, job.calls / 4) // warm both paths up
  await loop(contender, job.calls / 4)
  // Interleaved, three times each; the medians.
  const bares: number[] = []
  const contenders: number[] = []
  for (let i = 0; i < 3; i++) {
    bares.push(await loop(bare, job.calls))
    contenders.push(await loop(contender, job.calls))
  }
  return { bareUs: median(bares), contenderUs: median(contenders) }
}

async function pair(job: Extract<Job, { mode: 'pair' }>) {
  const keys = Array.from({ length: job.users }, (_, i) => `user-${i}`)
  const client = createSessionFetch({ baseURL: BASE, fetch: stub })
  await client.login(credentials('solo'))
  const pool = sessionPool({ baseURL: BASE, fetch: stub })
  for (const key of keys) await pool.for(key).login(credentials(key))
  const contenders = {
    client: () => client.fetch('/plants/42'),
    poolOneKey: () => pool.for('user-0').fetch('/plants/42'),
    poolInTurn: (i: number) => pool.for(keys[i % keys.length] as string).fetch('/plants/42'),
  }
  const names = Object.keys(contenders) as (keyof typeof contenders)[]
  for (const name of names) await loop(contenders[name], job.calls) // warm-up
  const got: Record<string, number[]> = { client: [], poolOneKey: [], poolInTurn: [] }
  for (let b = 0; b < job.batches; b++) {
    // Each batch starts at another contender.
    for (let k = 0; k < names.length; k++) {
      const name = names[(b + k) % names.length] as keyof typeof contenders
      got[name]?.push(await loop(contenders[name], job.calls))
    }
  }
  return got
}

async function memory(job: Extract<Job, { mode: 'memory' }>) {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run with --expose-gc')
  const used = async () => {
    await new Promise((resolve) => setTimeout(resolve, 50))
    gc()
    gc()
    return process.memoryUsage().heapUsed
  }
  const keys = Array.from({ length: job.clients }, (_, i) => `user-${i}`)
  // The tokens alone: session objects with strings of the same shape as the pool's, in an array.
  const before = await used()
  let tokensOnly: object[] | undefined = tokensAlone(keys)
  const tokensBytes = (await used()) - before
  tokensOnly = undefined
  void tokensOnly
  const empty = await used()
  const pool = sessionPool({ baseURL: BASE, fetch: stub, max: job.max })
  for (let i = 0; i < keys.length; i += 500) {
    await Promise.all(
      keys.slice(i, i + 500).map(async (key) => {
        const session = pool.for(key)
        await session.login(credentials(key))
        await (await session.fetch('/plants/42')).text()
      }),
    )
  }
  // The stub's own record of the tokens it issued is not the pool's: dropped before measuring.
  api.forget()
  const poolBytes = (await used()) - empty
  const live = pool.size
  if (live !== Math.min(job.max, job.clients)) throw new Error(`pool kept ${live} clients`)
  // Every user's session is still there (a sample): nothing lost to eviction.
  for (const key of keys.filter((_, i) => i % 997 === 0)) {
    if (!(await pool.for(key).getSession())) throw new Error(`${key} lost its session`)
  }
  return {
    clients: job.clients,
    live,
    poolBytesPerUser: poolBytes / job.clients,
    tokenBytesPerUser: tokensBytes / job.clients,
    beyondTokensBytesPerUser: (poolBytes - tokensBytes) / job.clients,
  }
}

async function storm(job: Extract<Job, { mode: 'storm' }>) {
  // A connection pool like a server's outbound agent: 128 sockets to the API.
  const dispatcher = new Agent({ connections: 128 })
  const transport = ((input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(input as string, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch
  let skew = 0
  const pool = sessionPool({ baseURL: job.url, fetch: transport, now: () => Date.now() + skew })
  const keys = Array.from({ length: job.users }, (_, i) => `u${i}`)
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(
      keys
        .slice(i, i + 50)
        .map((key, j) =>
          pool.for(key).login({ email_address: `user-${i + j}@plantly.test`, password: `pw-${i + j}` }),
        ),
    )
  }
  const burst = async () => {
    const start = performance.now()
    const results = await Promise.allSettled(
      Array.from({ length: job.users * job.perUser }, async (_, n) => {
        const key = keys[n % keys.length] as string
        const response = await pool.for(key).fetch(`/u/${key}/${n}`)
        await response.arrayBuffer()
        return response.status
      }),
    )
    const failed = results.filter((r) => r.status !== 'fulfilled' || r.value !== 200).length
    return { ms: performance.now() - start, failed }
  }
  await burst() // warm: connections open, code compiled
  const steady = await burst()
  skew = 3_601_000 // every access token has expired on the pool's clock (the server lets it refresh them)
  const across = await burst()
  const refreshes = keys.reduce((sum, key) => sum + pool.for(key).stats().refreshes, 0)
  await pool.close()
  await dispatcher.close()
  return {
    steadyMs: steady.ms,
    steadyFailed: steady.failed,
    expiryMs: across.ms,
    failed: across.failed,
    refreshes,
  }
}

// Ask the runner for something (callgrind's counting on or off) and wait until it is done.
function ask(what: string): Promise<void> {
  return new Promise((resolve) => {
    process.once('message', () => resolve())
    process.send?.({ ask: what })
  })
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const job = JSON.parse(process.argv[2] as string) as Job
const run =
  job.mode === 'cpu'
    ? cpu(job)
    : job.mode === 'pair'
      ? pair(job)
      : job.mode === 'memory'
        ? memory(job)
        : storm(job)
run.then(
  (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
  (error: unknown) =>
    process.send?.({ ok: false, error: String((error as Error)?.stack ?? error) }, () => process.exit(1)),
)
