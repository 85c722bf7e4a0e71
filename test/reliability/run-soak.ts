import { getEventListeners } from 'node:events'
import { createSessionFetch, plantlySessions } from '../../src/index.js'
import { ScriptedApi } from '../helpers/scripted-api.js'

// The soak, run by test/reliability/soak.test.ts in a child process started with --expose-gc:
// SOAK_REQUESTS (default 100k) requests through ONE instance against the in-process scripted API, in batches,
// with random server-side expiries (401 path), client clock jumps into and past the refresh window
// (proactive path), revocations (re-login with credentials), logout + login, and aborted calls. It prints
// one JSON line: outcome counts, heap samples after GC, the refresh queue and listener counts.

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc')

const TOTAL = Number(process.env.SOAK_REQUESTS ?? 100_000)
const BATCH = 100
const SEED = Number(process.env.SOAK_SEED ?? 20_260_101)
const BASE = 'https://api.test'
const DEMO = { email_address: 'demo@plantly.test', password: 'plantly' }
const ROBOT = { email_address: 'robot@plantly.test', password: 'beep' }

let state = SEED >>> 0
function random(): number {
  state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0
  return state / 2 ** 32
}

const clock = { now: Date.now() }
const api = new ScriptedApi({ baseURL: BASE, ttlSeconds: 300, autoDeliver: true, record: false })
const plantly = createSessionFetch({
  baseURL: BASE,
  fetch: api.fetch,
  now: () => clock.now,
  refreshTimeoutMs: 5_000,
  protocol: plantlySessions({ baseURL: BASE, retry: 0 }),
  credentials: () => ROBOT,
})
const events = { login: 0, refresh: 0, logout: 0, expired: 0 }
for (const name of ['login', 'refresh', 'logout', 'expired'] as const) plantly.on(name, () => events[name]++)
const listenersStart = plantly.stats().listeners

// One long-lived signal shared by most calls: a listener left behind per call would pile up on it.
const shared = new AbortController()
const outcomes = { ok: 0, unauthorized: 0, aborted: 0, refreshError: 0, other: 0 }
const otherErrors: string[] = []
let maxPendingRefreshes = 0
let maxSharedListeners = 0
const heap: { requests: number; mb: number }[] = []

function heapMB(): number {
  gc?.()
  gc?.()
  return Math.round((process.memoryUsage().heapUsed / 1_048_576) * 100) / 100
}

function call(i: number): Promise<Response> {
  const r = random()
  if (r < 0.04) {
    const own = new AbortController()
    const promise = plantly.fetch(`/items/${i}`, { signal: own.signal })
    if (r < 0.02) own.abort()
    else queueMicrotask(() => own.abort())
    return promise
  }
  if (r < 0.3) return plantly.fetch('/items', { method: 'POST', body: `item ${i}`, signal: shared.signal })
  return plantly.fetch(`/items/${i}`, { signal: shared.signal })
}

const started = performance.now()
await plantly.login(DEMO)
for (let done = 0; done < TOTAL; done += BATCH) {
  const r = random()
  if (r < 0.05)
    api.expireAccessTokens() // the client learns by 401s
  else if (r < 0.1)
    clock.now += 240_000 + Math.floor(random() * 120_000) // into, or past, the window
  else if (r < 0.11)
    api.revokeAll() // refresh refused: unattended re-login
  else if (r < 0.112) {
    await plantly.logout()
    await plantly.login(DEMO)
  }
  const batch = Array.from({ length: BATCH }, (_, k) => call(done + k))
  for (const result of await Promise.allSettled(batch)) {
    if (result.status === 'fulfilled') {
      if (result.value.status === 200) outcomes.ok++
      else if (result.value.status === 401) outcomes.unauthorized++
      else outcomes.other++
      continue
    }
    const name = (result.reason as Error)?.name
    if (name === 'AbortError') outcomes.aborted++
    else if (name === 'RefreshError') outcomes.refreshError++
    else {
      outcomes.other++
      if (otherErrors.length < 5) otherErrors.push(String(result.reason))
    }
  }
  maxPendingRefreshes = Math.max(maxPendingRefreshes, plantly.stats().pendingRefreshes)
  maxSharedListeners = Math.max(maxSharedListeners, getEventListeners(shared.signal, 'abort').length)
  if ((done + BATCH) % (TOTAL / 10) === 0) heap.push({ requests: done + BATCH, mb: heapMB() })
}
const seconds = Math.round((performance.now() - started) / 10) / 100
const stats = plantly.stats()
const activeTimers = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length

console.log(
  JSON.stringify({
    requests: TOTAL,
    seconds,
    outcomes,
    otherErrors,
    events,
    stats,
    serverTokens: api.tokens.size,
    pendingExchanges: api.inFlight(),
    heap,
    maxPendingRefreshes,
    maxSharedListeners,
    listenersStart,
    listenersEnd: stats.listeners,
    activeTimers,
  }),
)
