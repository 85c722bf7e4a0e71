// Memory: heap after 10k and after 1M requests through `plantly.fetch`, in one process run with --expose-gc.
// 1M requests over loopback would take many minutes on the shared 2-core machine, so the transport is an
// in-process stub (the `fetch` option) that speaks the Plantly Sessions API: what is measured is this
// package's own retention (listeners, timers, queue entries, replays), not undici's.
//
// The mix: every call at concurrency 64; every 100th call is aborted while in flight; every 1,000th call the
// stub ends the current access token, so the calls in flight get a 401, one refresh runs and they are replayed.
import { createSessionFetch } from '../src/index.js'

export interface MemoryResult {
  checkpoints: { requests: number; heapUsedBytes: number }[]
  refreshes: number
  replays: number
  aborted: number
  failures: number
  /** Calls whose one replay met the next token death too: their caller got the 401 (by design). */
  unauthorizedAfterReplay: number
  listeners: number
  pendingRefreshes: number
  elapsedMs: number
}

const BASE = 'http://plantly.bench'
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')

let serial = 0
let current = `access-${++serial}`
let refreshToken = `refresh-${serial}`
let apiCalls = 0

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

function session(): Response {
  current = `access-${++serial}`
  refreshToken = `refresh-${serial}`
  return json(200, {
    type: 'auth.session',
    token_type: 'bearer',
    access_token: current,
    refresh_token: refreshToken,
    expires_in: 3600,
  })
}

const OK = JSON.stringify({ id: 42, name: 'Monstera deliciosa' })

// Answers on a later macrotask, like a real socket, and honours the signal while "in flight".
const stub: typeof fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
  const method = init?.method ?? 'GET'
  const headers = new Headers(init?.headers)
  const signal = init?.signal
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = () => {
      clearImmediate(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    const timer = setImmediate(() => {
      signal?.removeEventListener('abort', onAbort)
      if (url === `${BASE}/auth/sessions`) {
        if (method === 'POST') resolve(session())
        else if (method === 'PUT' && headers.get('authorization') === `Bearer ${refreshToken}`)
          resolve(session())
        else resolve(json(401, { code: 'unauthorized' }))
        return
      }
      if (++apiCalls % 1000 === 0) current = 'ended' // the token dies: calls in flight now get a 401
      if (headers.get('authorization') === `Bearer ${current}`) {
        resolve(new Response(OK, { status: 200, headers: { 'content-type': 'application/json' } }))
      } else resolve(json(401, { code: 'unauthorized' }))
    })
  })
}

async function main(): Promise<MemoryResult> {
  const plantly = createSessionFetch({ baseURL: BASE, fetch: stub })
  await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
  const total = Number(process.argv[2] ?? 1_000_000)
  const stops = [10_000, 100_000, 250_000, 500_000, total].filter(
    (stop, i, all) => stop <= total && all.indexOf(stop) === i,
  )
  const checkpoints: MemoryResult['checkpoints'] = []
  let started = 0
  let done = 0
  let aborted = 0
  let failures = 0
  let unauthorized = 0

  async function one(n: number): Promise<void> {
    const controller = n % 100 === 0 ? new AbortController() : undefined
    if (controller) setImmediate(() => controller.abort())
    try {
      const response = await plantly.fetch(
        '/plants/42',
        controller ? { signal: controller.signal } : undefined,
      )
      if (response.status === 401) unauthorized++
      else if (response.status !== 200) failures++
      await response.text()
    } catch (error) {
      if (controller?.signal.aborted && error === controller.signal.reason) aborted++
      else failures++
    }
  }

  const start = performance.now()
  for (const stop of stops) {
    async function worker(): Promise<void> {
      while (started < stop) await one(++started)
    }
    await Promise.all(Array.from({ length: 64 }, worker))
    done = stop
    gc?.()
    await new Promise((resolve) => setTimeout(resolve, 50))
    gc?.()
    checkpoints.push({ requests: done, heapUsedBytes: process.memoryUsage().heapUsed })
  }
  const stats = plantly.stats()
  return {
    checkpoints,
    refreshes: stats.refreshes,
    replays: stats.replays,
    aborted,
    failures,
    unauthorizedAfterReplay: unauthorized,
    listeners: stats.listeners,
    pendingRefreshes: stats.pendingRefreshes,
    elapsedMs: performance.now() - start,
  }
}

main().then(
  (result) => {
    process.send?.({ ok: true, result }, () => process.exit(0))
    if (!process.send) console.log(JSON.stringify(result, null, 2))
  },
  (error: unknown) => {
    process.send?.({ ok: false, error: String(error) }, () => process.exit(1))
    if (!process.send) console.error(error)
  },
)
