// The runtime conformance scenario: one file, run unchanged on every runtime the package claims (Node, Bun,
// Deno, workerd, an edge runtime, browser pages, workers and service workers). It uses nothing but fetch and the
// Web APIs, and imports the BUILT package: `session-fetch` is bundled from dist/ (test/runtimes/bundle.ts), never
// from src/ (tsconfig `paths` point at src/ for the type checker only).
//
// It talks to the embedded mock in the runner's Node process, same origin: the Plantly API at `base`, and the
// mock's controls under `${base}/__runtime/` (counters, log, faults, expiry), reached with the runtime's plain
// fetch. Every step checks what the client saw and what the mock counted; the runner then judges the mock's
// final counters on its own.
import { createSessionFetch } from 'session-fetch'

export interface StepResult {
  step: string
  ok: boolean
  /** What failed (empty when ok). */
  detail: string
}

export interface ScenarioResult {
  ok: boolean
  steps: StepResult[]
  /** `navigator.userAgent`, where the runtime has one. */
  userAgent: string
}

/** What the runner expects the mock to have counted once the scenario is over. */
export const EXPECTED_COUNTERS = {
  logins: 1,
  // the storm, the proactive refresh, the two replayed POSTs
  refreshes: 4,
  logouts: 1,
  maxConcurrentRefreshes: 1,
  refreshRejected: 0,
  reuseDetected: 0,
} as const

/** The mock's access tokens live this long; the scenario's clock skips ahead inside the refresh window. */
export const ACCESS_TTL_SECONDS = 60

const STORM = 50
const CREDENTIALS = { email_address: 'demo@plantly.test', password: 'plantly' }

interface Counters {
  logins: number
  refreshes: number
  logouts: number
  apiRequests: number
  apiUnauthorized: number
  faultsServed: number
  maxConcurrentRefreshes: number
}

interface LogEntry {
  method: string
  path: string
  token: string | undefined
  status: number
  contentType: string | null
  bodyHash: string
}

interface Echo {
  ok: boolean
  method: string
  path: string
  contentType: string | null
  bodyLength: number
  bodyHash: string
}

class Failed extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Failed(message)
}

/** Run every step against the mock at `base` (e.g. `http://127.0.0.1:41234`). Never throws. */
export async function runScenario(base: string): Promise<ScenarioResult> {
  const control = async <T>(path: string, body?: unknown): Promise<T> => {
    const init: RequestInit =
      body === undefined
        ? {}
        : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
    const res = await fetch(`${base}/__runtime/${path}`, init)
    if (!res.ok) throw new Error(`control ${path} answered ${res.status}`)
    return (await res.json()) as T
  }
  const counters = () => control<Counters>('counters')
  const logOf = async (path: string) =>
    (await control<LogEntry[]>('log')).filter((entry) => entry.path === path)

  // The client's clock: the proactive step moves it into the refresh window instead of waiting for it.
  let skewMs = 0
  const plantly = createSessionFetch({ baseURL: base, now: () => Date.now() + skewMs })
  let token = ''

  const steps: [string, () => Promise<void>][] = [
    [
      'login',
      async () => {
        const session = await plantly.login(CREDENTIALS)
        check(session.access_token.length > 0, 'login gave no access token')
        token = session.access_token
        check((await counters()).logins === 1, 'the mock did not count one login')
      },
    ],
    [
      'fetch',
      async () => {
        const res = await plantly.fetch('/buyers?page=1')
        check(res.status === 200, `GET /buyers answered ${res.status}`)
        const echo = (await res.json()) as Echo
        check(echo.method === 'GET' && echo.path === '/buyers', `unexpected echo ${JSON.stringify(echo)}`)
        const [entry] = await logOf('/buyers')
        check(entry?.token === token, 'GET /buyers did not carry the session access token')
      },
    ],
    [
      'storm',
      async () => {
        const before = await counters()
        // The token dies after 10 more answers: 40 of the 50 concurrent calls are refused with a 401.
        await control('expire', { afterRequests: 10 })
        const answers = await Promise.all(
          Array.from({ length: STORM }, (_, i) => plantly.fetch(`/storm/${i}`).then((res) => res.status)),
        )
        const after = await counters()
        const refused = after.apiUnauthorized - before.apiUnauthorized
        check(
          answers.every((status) => status === 200),
          `storm answers: ${answers.filter((s) => s !== 200).length} not 200`,
        )
        check(refused > 0, 'no call of the storm met the expiry (nothing was refused)')
        check(
          after.refreshes - before.refreshes === 1,
          `${after.refreshes - before.refreshes} refresh calls, expected exactly 1`,
        )
        check(after.maxConcurrentRefreshes === 1, `${after.maxConcurrentRefreshes} refreshes at once`)
        check(
          plantly.stats().replays >= refused,
          `${plantly.stats().replays} replays for ${refused} refusals`,
        )
        token = (await plantly.getSession())?.access_token ?? ''
      },
    ],
    [
      'proactive refresh',
      async () => {
        const before = await counters()
        const refreshed = new Promise<void>((resolve) => {
          const off = plantly.on('refresh', () => {
            off()
            resolve()
          })
        })
        // 40 s later by the client's clock: 20 s of the 60 s token left, inside the 30 s refresh window and
        // outside the 5 s must-refresh margin. The call goes at once with the current token; one refresh runs
        // beside it.
        skewMs = 40_000
        const res = await plantly.fetch('/ahead')
        check(res.status === 200, `GET /ahead answered ${res.status}`)
        const [first] = await logOf('/ahead')
        check(
          first?.token === token,
          'GET /ahead waited for the refresh instead of going with the current token',
        )
        await withTimeout(refreshed, 15_000, 'no refresh event within 15 s of the call in the window')
        const after = await counters()
        check(
          after.refreshes - before.refreshes === 1,
          `${after.refreshes - before.refreshes} refresh calls, expected 1`,
        )
        const next = (await plantly.getSession())?.access_token ?? ''
        check(next !== token && next !== '', 'the session was not renewed')
        const again = await plantly.fetch('/ahead-again')
        check(again.status === 200, `GET /ahead-again answered ${again.status}`)
        const [entry] = await logOf('/ahead-again')
        check(entry?.token === next, 'the call after the refresh did not carry the new token')
        const settled = await counters()
        check(settled.refreshes === after.refreshes, 'the call after the refresh started another refresh')
        token = next
      },
    ],
    [
      'replayed POST, same bytes',
      async () => {
        const bytes = new Uint8Array(48 * 1024)
        for (let i = 0; i < bytes.length; i += 65_536) crypto.getRandomValues(bytes.subarray(i, i + 65_536))
        const form = new FormData()
        form.append('note', 'fern, repotted')
        form.append('photo', new Blob([bytes.subarray(0, 4096)], { type: 'image/png' }), 'fern.png')
        for (const [path, body, type] of [
          ['/orders', bytes, 'application/octet-stream'],
          ['/uploads', form, undefined],
        ] as const) {
          const before = await counters()
          await control('expire', { afterRequests: 0 }) // the token in hand is refused: 401, refresh, replay
          const headers: Record<string, string> = type ? { 'content-type': type } : {}
          const res = await plantly.fetch(path, { method: 'POST', headers, body })
          check(res.status === 200, `POST ${path} answered ${res.status}`)
          const echo = (await res.json()) as Echo
          const tries = await logOf(path)
          check(
            tries.map((entry) => entry.status).join(',') === '401,200',
            `POST ${path} was answered ${tries.map((entry) => entry.status).join(',')}, expected 401 then 200`,
          )
          const [refused, replayed] = tries as [LogEntry, LogEntry]
          check(refused.bodyHash === replayed.bodyHash, `POST ${path}: the replay sent other bytes`)
          check(refused.contentType === replayed.contentType, `POST ${path}: the replay changed content-type`)
          check(echo.bodyHash === replayed.bodyHash, `POST ${path}: the echo disagrees with the log`)
          if (body instanceof Uint8Array) {
            check(
              echo.bodyHash === (await sha256(body)),
              'POST /orders: the bytes sent are not the bytes given',
            )
            check(echo.bodyLength === body.byteLength, `POST /orders sent ${echo.bodyLength} bytes`)
          } else {
            check(
              /^multipart\/form-data;\s*boundary=/i.test(echo.contentType ?? ''),
              `POST /uploads arrived as ${echo.contentType}, not multipart/form-data with a boundary`,
            )
          }
          const after = await counters()
          check(
            after.refreshes - before.refreshes === 1,
            `POST ${path}: ${after.refreshes - before.refreshes} refreshes`,
          )
        }
      },
    ],
    [
      'abort',
      async () => {
        const before = await counters()
        await control('inject', { on: 'api', hang: true })
        const controller = new AbortController()
        const pending = plantly.fetch('/hangs', { signal: controller.signal }).then(
          () => 'resolved',
          (error: unknown) => (error as { name?: string })?.name ?? String(error),
        )
        // Abort once the mock holds the request (it never answers it).
        await until(async () => (await counters()).faultsServed > before.faultsServed, 'the request to abort')
        controller.abort()
        const outcome = await withTimeout(pending, 15_000, 'an aborted call did not settle within 15 s')
        check(outcome === 'AbortError', `an aborted call ended with ${outcome}, expected AbortError`)
        const res = await plantly.fetch('/after-abort')
        check(res.status === 200, `the call after the abort answered ${res.status}`)
        check(plantly.stats().pendingRefreshes === 0, 'a refresh is pending after the abort')
      },
    ],
    [
      'logout',
      async () => {
        const before = await counters()
        await plantly.logout()
        const after = await counters()
        check(after.logouts - before.logouts === 1, 'the mock did not count one logout')
        check((await plantly.getSession()) === undefined, 'a session is left after logout')
        const res = await plantly.fetch('/after-logout')
        check(res.status === 401, `a call after logout answered ${res.status}, expected 401`)
        const [entry] = await logOf('/after-logout')
        check(entry !== undefined && entry.token === undefined, 'a call after logout carried a token')
        check((await counters()).refreshes === after.refreshes, 'a call after logout started a refresh')
        plantly.close()
      },
    ],
  ]

  const results: StepResult[] = []
  for (const [step, run] of steps) {
    try {
      await run()
      results.push({ step, ok: true, detail: '' })
    } catch (error) {
      const detail = error instanceof Failed ? error.message : `threw ${describe(error)}`
      results.push({ step, ok: false, detail })
      break // the next steps build on this one
    }
  }
  const userAgent = typeof navigator === 'object' ? String(navigator.userAgent ?? '') : ''
  return {
    ok: results.length === steps.length && results.every((result) => result.ok),
    steps: results,
    userAgent,
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes)
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Failed(message)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1_500; i++) {
    if (await condition()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Failed(`gave up waiting for ${what}`)
}
