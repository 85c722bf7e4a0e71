import { createHash } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import {
  createSessionFetch,
  LoginError,
  LogoutError,
  OptionError,
  plantlySessions,
  RefreshError,
  type SessionFetch,
} from '../../src/index.js'
import type { Fault, MockServer, MockServerOptions } from '../../src/testing/mock/index.js'
import { craftJwt } from '../helpers/jwt.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

// Fault matrix: every row is one failure of the Sessions API, over real HTTP against the
// embedded mock server, and checks the documented outcome (docs/outcomes.md): RefreshError with the
// session kept, the session expired with every caller getting its own 401, or recovery. Every row also checks
// that nothing is lost: each call settles (a hang is caught by a generous bound, not a timing assertion)
// with a Response or a documented error, and the server saw each call's exact bytes at most twice.

// Rows whose outcome is "could not complete" keep failing (until cleared), so that a call arriving after the
// first refresh failed meets the same fault rather than a fresh, working refresh.
const PERSISTENT = 1_000
// refreshTimeoutMs: generous, so a loaded machine never turns a recovery into a timeout; rows that meet a
// connection that never answers use the short one, so they end soon.
const TIMEOUT_MS = 5_000
const HANG_TIMEOUT_MS = 500
const INJECTED = craftJwt({ sub: 'attacker', iat: 0 }) // refreshTimeoutMs: rows that wait for it stay short
const HANG_BOUND_MS = 15_000 // only to turn a hang into a failure; never a duration assertion

type Trigger = '401' | 'expired-locally'
type Outcome =
  | { kind: 'refresh-error'; status?: number; cause?: string }
  | { kind: 'expired' }
  | { kind: 'recovered'; noProactiveRefresh?: boolean }

interface RefreshRow {
  name: string
  faults: Fault[]
  outcome: Outcome
}

const session = (s: Record<string, unknown>) => s
const REFRESH_ROWS: RefreshRow[] = [
  {
    name: '500 on every attempt',
    faults: [{ on: 'refresh', status: 500, times: PERSISTENT }],
    outcome: { kind: 'refresh-error', status: 500 },
  },
  {
    name: '500 once, then a session',
    faults: [{ on: 'refresh', status: 500 }],
    outcome: { kind: 'recovered' },
  },
  {
    name: '502 on every attempt',
    faults: [{ on: 'refresh', status: 502, times: PERSISTENT }],
    outcome: { kind: 'refresh-error', status: 502 },
  },
  {
    name: '502 once, then a session',
    faults: [{ on: 'refresh', status: 502 }],
    outcome: { kind: 'recovered' },
  },
  {
    name: '503 on every attempt',
    faults: [{ on: 'refresh', status: 503, times: PERSISTENT }],
    outcome: { kind: 'refresh-error', status: 503 },
  },
  {
    name: '503 once, then a session',
    faults: [{ on: 'refresh', status: 503 }],
    outcome: { kind: 'recovered' },
  },
  {
    name: '429 with Retry-After: 0, then a session',
    faults: [{ on: 'refresh', status: 429, headers: { 'retry-after': '0' } }],
    outcome: { kind: 'recovered' },
  },
  {
    name: '429 with a Retry-After longer than refreshTimeoutMs',
    faults: [{ on: 'refresh', status: 429, headers: { 'retry-after': '120' }, times: PERSISTENT }],
    // No retry is made that could only go out at the deadline: the 429 is the answer, at once.
    outcome: { kind: 'refresh-error', status: 429 },
  },
  {
    name: 'a dropped connection on every attempt',
    faults: [{ on: 'refresh', drop: true, times: PERSISTENT }],
    outcome: { kind: 'refresh-error' },
  },
  {
    name: 'a dropped connection once',
    faults: [{ on: 'refresh', drop: true }],
    outcome: { kind: 'recovered' },
  },
  {
    name: 'a connection that never answers',
    faults: [{ on: 'refresh', hang: true, times: PERSISTENT }],
    outcome: { kind: 'refresh-error', cause: 'TimeoutError' },
  },
  {
    name: 'an HTML body with 200',
    faults: [
      { on: 'refresh', status: 200, body: '<html><body>Maintenance</body></html>', times: PERSISTENT },
    ],
    outcome: { kind: 'refresh-error', cause: 'InvalidResponseError' },
  },
  {
    name: 'an HTML body with 502 on every attempt',
    faults: [
      { on: 'refresh', status: 502, body: '<html><body>Bad gateway</body></html>', times: PERSISTENT },
    ],
    outcome: { kind: 'refresh-error', status: 502 },
  },
  {
    name: 'JSON without access_token',
    // Answered without processing (nothing rotated): the broken answer is all the client has to go on.
    faults: [
      {
        on: 'refresh',
        status: 200,
        body: {
          type: 'auth.session',
          token_type: 'bearer',
          refresh_token: 'eyJmYWtl.e30.c2ln',
          expires_in: 60,
        },
        times: PERSISTENT,
      },
    ],
    outcome: { kind: 'refresh-error', cause: 'InvalidResponseError' },
  },
  {
    name: 'expires_in negative',
    faults: [{ on: 'refresh', body: (s: Record<string, unknown>) => session({ ...s, expires_in: -60 }) }],
    outcome: { kind: 'recovered' },
  },
  {
    name: 'expires_in a string',
    faults: [{ on: 'refresh', body: (s: Record<string, unknown>) => session({ ...s, expires_in: '60' }) }],
    outcome: { kind: 'recovered' },
  },
  {
    name: 'a malformed JWT (expires_in decides)',
    faults: [
      {
        on: 'refresh',
        body: (s: Record<string, unknown>) => ({
          ...s,
          access_token: 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln',
        }),
      },
    ],
    outcome: { kind: 'recovered' },
  },
  {
    name: 'a JWT without exp and no expires_in (refresh on 401 only)',
    faults: [
      {
        on: 'refresh',
        body: ({ expires_in: _, ...s }: Record<string, unknown>) => ({
          ...s,
          access_token: craftJwt({ sub: 'demo', iat: Math.floor(Date.now() / 1000) }),
        }),
      },
    ],
    outcome: { kind: 'recovered', noProactiveRefresh: true },
  },
  {
    name: 'a JWT whose exp is in the past (exp − iat ignored, expires_in decides)',
    faults: [
      {
        on: 'refresh',
        body: (s: Record<string, unknown>) => {
          const iat = Math.floor(Date.now() / 1000)
          return { ...s, access_token: craftJwt({ sub: 'demo', iat, exp: iat - 3600 }) }
        },
      },
    ],
    outcome: { kind: 'recovered' },
  },
  {
    name: 'a JWT whose exp is in the past and no expires_in (refresh on 401 only)',
    faults: [
      {
        on: 'refresh',
        body: ({ expires_in: _, ...s }: Record<string, unknown>) => {
          const iat = Math.floor(Date.now() / 1000)
          return { ...s, access_token: craftJwt({ sub: 'demo', iat, exp: iat - 3600 }) }
        },
      },
    ],
    outcome: { kind: 'recovered', noProactiveRefresh: true },
  },
  {
    name: 'a token with CR/LF (header injection)',
    faults: [
      {
        on: 'refresh',
        status: 200,
        body: {
          type: 'auth.session',
          token_type: 'bearer',
          access_token: `${INJECTED}\r\nX-Injected: yes`,
          refresh_token: INJECTED,
          expires_in: 60,
        },
        times: PERSISTENT,
      },
    ],
    outcome: { kind: 'refresh-error', cause: 'InvalidResponseError' },
  },
  {
    name: '401 (refresh token refused)',
    faults: [{ on: 'refresh', status: 401, body: { type: 'error', code: 'unauthorized', status: 401 } }],
    outcome: { kind: 'expired' },
  },
  { name: '400', faults: [{ on: 'refresh', status: 400 }], outcome: { kind: 'expired' } },
  { name: '403', faults: [{ on: 'refresh', status: 403 }], outcome: { kind: 'expired' } },
]

// ---- helpers --------------------------------------------------------------------------------------------

const encoder = new TextEncoder()
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

function client(server: MockServer, clock?: { now: number }, faults: readonly Fault[] = []): SessionFetch {
  return createSessionFetch({
    baseURL: server.url,
    refreshTimeoutMs: faults.some((fault) => fault.hang) ? HANG_TIMEOUT_MS : TIMEOUT_MS,
    protocol: plantlySessions({ baseURL: server.url, retry: 2, retryDelayMs: 10 }),
    ...(clock ? { now: () => clock.now } : {}),
  })
}

interface Sent {
  path: string
  kind: string
  /** sha256 of the bytes every attempt must carry; undefined for FormData (compared attempt to attempt). */
  hash: string | undefined
  promise: Promise<Response>
}

/** One call per body kind, each to its own path. */
function burst(plantly: SessionFetch, base: string, tag: string): Sent[] {
  const text = `payload ${tag} ✓`
  const bytes = encoder.encode(text)
  const form = new FormData()
  form.append('note', text)
  form.append('file', new Blob([bytes]), 'note.txt')
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes)
      controller.close()
    },
  })
  const params = new URLSearchParams({ note: text })
  const kinds: [string, RequestInit | 'request', string | undefined][] = [
    ['none', {}, sha256(new Uint8Array())],
    ['string', { method: 'POST', body: text }, sha256(bytes)],
    ['params', { method: 'POST', body: params }, sha256(encoder.encode(params.toString()))],
    ['form', { method: 'POST', body: form }, undefined],
    ['blob', { method: 'POST', body: new Blob([bytes]) }, sha256(bytes)],
    ['buffer', { method: 'POST', body: bytes.slice().buffer }, sha256(bytes)],
    ['typed', { method: 'POST', body: bytes.slice() }, sha256(bytes)],
    ['stream', { method: 'POST', body: stream, duplex: 'half' } as RequestInit, sha256(bytes)],
    ['request', 'request', sha256(bytes)],
  ]
  return kinds.map(([kind, init, hash]) => {
    const path = `/matrix/${tag}/${kind}`
    const promise =
      init === 'request'
        ? plantly.fetch(new Request(`${base}${path}`, { method: 'POST', body: text }))
        : plantly.fetch(path, init)
    promise.catch(() => undefined)
    return { path, kind, hash, promise }
  })
}

type Settled = { sent: Sent; response?: Response; error?: unknown }

/** Wait for every call; a call still pending after HANG_BOUND_MS fails the test as a hang. */
async function settleAll(sent: Sent[]): Promise<Settled[]> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`hang: a call did not settle within ${HANG_BOUND_MS} ms`)),
      HANG_BOUND_MS,
    )
  })
  try {
    return await Promise.race([
      Promise.all(
        sent.map((s) =>
          s.promise.then(
            (response) => ({ sent: s, response }),
            (error: unknown) => ({ sent: s, error }),
          ),
        ),
      ),
      bound,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Nothing lost or doubled: each call reached the server at most twice, with its exact bytes (a stream too). */
function expectNothingLostOrDoubled(server: MockServer, sent: Sent[]): void {
  for (const s of sent) {
    const seen = server.log.filter((entry) => entry.path === s.path)
    expect(seen.length, `${s.kind}: times sent`).toBeLessThanOrEqual(2)
    if (s.hash !== undefined) for (const entry of seen) expect(entry.bodyHash, s.kind).toBe(s.hash)
    expect(
      new Set(seen.map((entry) => `${entry.bodyHash} ${entry.contentType}`)).size,
      s.kind,
    ).toBeLessThanOrEqual(1)
  }
}

function expectNoToken(error: unknown, tokens: string[]): void {
  if (error === undefined) return
  const texts = [String(error), JSON.stringify(error) ?? '']
  for (let e: unknown = error; e instanceof Error; e = e.cause) texts.push(e.message)
  for (const token of tokens) for (const text of texts) expect(text.includes(token)).toBe(false)
}

// ---- the refresh rows --------------------------------------------------------------------------------

describe.each<Trigger>(['401', 'expired-locally'])('refresh fault matrix (trigger: %s)', (trigger) => {
  test.each(REFRESH_ROWS)('refresh answers $name', async ({ faults, outcome }) => {
    const server = await mockServer({ accessTtlSeconds: 60 })
    const clock = { now: Date.now() }
    const plantly = client(server, clock, faults)
    const expired: unknown[] = []
    plantly.on('expired', (event) => expired.push(event))
    const before = await plantly.login(DEMO_USER)
    // The trigger: the server stops taking the access token (the client finds out by a 401), or the
    // client's own clock passes the token's expiry (it waits for a refresh before sending anything).
    if (trigger === '401') server.mock.expireAccessTokens()
    else clock.now += 61_000
    server.inject(...faults)
    const sent = burst(plantly, server.url, trigger)
    const settled = await settleAll(sent)
    expectNothingLostOrDoubled(server, sent)
    for (const { error } of settled)
      expectNoToken(error, [before.access_token, before.refresh_token ?? '', INJECTED])

    // A ReadableStream is replayed like any body: it fits in replayBufferBytes (docs/fetch.md, "Bodies").
    switch (outcome.kind) {
      case 'refresh-error': {
        for (const { sent: s, error } of settled) {
          expect(error, s.kind).toBeInstanceOf(RefreshError)
          const refreshError = error as RefreshError
          if (outcome.status !== undefined) expect(refreshError.status).toBe(outcome.status)
          if (outcome.cause !== undefined) expect((refreshError.cause as Error).name).toBe(outcome.cause)
        }
        // The session is kept, and the next call recovers once the server answers again.
        expect(await plantly.getSession()).toEqual(before)
        expect(expired).toHaveLength(0)
        server.mock.clearFaults()
        expect((await plantly.fetch('/after')).status).toBe(200)
        break
      }
      case 'expired': {
        for (const { sent: s, response } of settled) {
          expect(response?.status, s.kind).toBe(401)
          expect(await response?.json(), s.kind).toMatchObject({ code: 'unauthorized' }) // its own body, intact
        }
        expect(expired).toHaveLength(1)
        expect(await plantly.getSession()).toBeUndefined()
        const refreshes = server.counters.refreshes + server.counters.refreshRejected
        const after = await plantly.fetch('/after')
        expect(after.status).toBe(401)
        expect(server.log.at(-1)?.token).toBeUndefined()
        expect(server.counters.refreshes + server.counters.refreshRejected).toBe(refreshes)
        break
      }
      case 'recovered': {
        for (const { sent: s, response } of settled) expect(response?.status, s.kind).toBe(200)
        expect(server.counters.refreshes).toBe(1)
        expect(expired).toHaveLength(0)
        // However odd the token's lifetime data, it is not refreshed on every call.
        const more = await Promise.all([1, 2, 3, 4, 5].map((i) => plantly.fetch(`/more/${i}`)))
        expect(more.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
        expect(server.counters.refreshes).toBe(1)
        if (outcome.noProactiveRefresh) {
          // Nothing says when it expires: no proactive refresh even far in the future, only after a 401.
          clock.now += 10 * 3_600_000
          expect((await plantly.fetch('/much-later')).status).toBe(200)
          expect(server.counters.refreshes).toBe(1)
        }
        break
      }
    }
  })
})

// ---- login and logout rows ------------------------------------------------------------------------------

interface LoginRow {
  name: string
  credentials?: { email_address: string; password: string }
  mock?: { forbiddenUsers?: string[] }
  faults?: Fault[]
  status: number | undefined
  cause?: string
}

const LOGIN_ROWS: LoginRow[] = [
  { name: 'a wrong password', credentials: { ...DEMO_USER, password: 'wrong' }, status: 401 },
  { name: 'a 403 (account forbidden)', mock: { forbiddenUsers: [DEMO_USER.email_address] }, status: 403 },
  {
    name: 'an empty body with 200',
    faults: [{ on: 'login', status: 200, body: '' }],
    status: undefined,
    cause: 'InvalidResponseError',
  },
  { name: '400 with an empty body', faults: [{ on: 'login', status: 400 }], status: 400 },
  { name: '500 on every attempt', faults: [{ on: 'login', status: 500, times: PERSISTENT }], status: 500 },
  {
    name: 'a dropped connection',
    faults: [{ on: 'login', drop: true, times: PERSISTENT }],
    status: undefined,
  },
  {
    name: 'a connection that never answers',
    faults: [{ on: 'login', hang: true, times: PERSISTENT }],
    status: undefined,
    cause: 'TimeoutError',
  },
]

describe('login fault matrix', () => {
  test.each(LOGIN_ROWS)(
    'login meets $name: LoginError with its status, no session, calls still settle',
    async (row) => {
      const server = await mockServer(row.mock ?? {})
      const plantly = client(server, undefined, row.faults)
      server.inject(...(row.faults ?? []))
      const password = (row.credentials ?? DEMO_USER).password
      const error = await plantly.login(row.credentials ?? DEMO_USER).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(LoginError)
      expect((error as LoginError).status).toBe(row.status)
      if (row.cause) expect(((error as LoginError).cause as Error).name).toBe(row.cause)
      expectNoToken(error, [password])
      expect(await plantly.getSession()).toBeUndefined()
      // Without a session, every call goes out without a token and comes back with its 401; no refresh.
      const sent = burst(plantly, server.url, 'no-session')
      const settled = await settleAll(sent)
      for (const { sent: s, response } of settled) expect(response?.status, s.kind).toBe(401)
      expectNothingLostOrDoubled(server, sent)
      expect(server.log.filter((entry) => entry.token !== undefined)).toEqual([])
      expect(server.counters.refreshes + server.counters.refreshRejected).toBe(0)
    },
  )

  test('login with empty credentials is refused up front, naming the option, and nothing is sent', async () => {
    const server = await mockServer()
    const plantly = client(server)
    const error = await plantly.login({} as typeof DEMO_USER).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OptionError)
    expect((error as OptionError).option).toBe('credentials')
    expect(server.counters.logins + server.counters.loginFailures).toBe(0)
  })
})

interface LogoutRow {
  name: string
  expireFirst?: boolean
  faults?: Fault[]
  error?: string
}

const LOGOUT_ROWS: LogoutRow[] = [
  { name: 'an already expired access token (401: nothing to end)', expireFirst: true },
  { name: 'a 500', faults: [{ on: 'logout', status: 500 }], error: 'ResponseError' },
  { name: 'a dropped connection', faults: [{ on: 'logout', drop: true }], error: 'TypeError' },
  { name: 'a connection that never answers', faults: [{ on: 'logout', hang: true }], error: 'TimeoutError' },
]

describe('logout fault matrix', () => {
  test.each(LOGOUT_ROWS)(
    'logout meets $name: the local session is cleared, calls still settle',
    async (row) => {
      const server = await mockServer()
      const plantly = client(server, undefined, row.faults)
      const events: string[] = []
      plantly.on('logout', () => events.push('logout'))
      const session = await plantly.login(DEMO_USER)
      if (row.expireFirst) server.mock.expireAccessTokens()
      server.inject(...(row.faults ?? []))
      const logout = plantly.logout().then(
        () => undefined,
        (e: unknown) => e,
      )
      const sent = burst(plantly, server.url, 'logout') // made while the logout runs
      const [error, settled] = await Promise.all([logout, settleAll(sent)])
      if (row.error) {
        expect(error).toBeInstanceOf(LogoutError)
        expect(((error as LogoutError).cause as Error).name).toBe(row.error)
        expectNoToken(error, [session.access_token, session.refresh_token ?? ''])
      } else expect(error).toBeUndefined()
      expect(await plantly.getSession()).toBeUndefined()
      expect(events).toEqual(['logout'])
      for (const { sent: s, response } of settled) expect(response?.status, s.kind).toBe(401)
      expectNothingLostOrDoubled(server, sent)
      // Calls made after logout began never carry the ended session's token.
      for (const s of sent) {
        for (const entry of server.log.filter((e) => e.path === s.path))
          expect(entry.token, s.kind).toBeUndefined()
      }
    },
  )
})

// ---- server variants: token format, iat, clock skew ---------------------------------------------------------

const VARIANTS: { name: string; mock: MockServerOptions }[] = [
  { name: 'signed JWTs', mock: {} },
  { name: 'opaque tokens (expires_in decides)', mock: { tokenFormat: 'opaque' } },
  { name: 'JWTs without iat (exp − Date header)', mock: { includeIat: false } },
  { name: 'a server clock an hour ahead', mock: { clockOffsetMs: 3_600_000 } },
  { name: 'a server clock an hour behind', mock: { clockOffsetMs: -3_600_000, includeIat: false } },
]

describe.each(VARIANTS)('server variant: $name', ({ mock }) => {
  test('no refresh on every call, one proactive refresh inside the must-refresh margin, one after a 401', async () => {
    const server = await mockServer({ accessTtlSeconds: 60, ...mock })
    const clock = { now: Date.now() }
    const plantly = client(server, clock)
    await plantly.login(DEMO_USER)
    const first = await settleAll(burst(plantly, server.url, 'fresh'))
    for (const { sent: s, response } of first) expect(response?.status, s.kind).toBe(200)
    expect(server.counters.refreshes).toBe(0)
    // 56 s later by the client's clock: inside the 5 s must-refresh margin (calls wait for the refresh, so none
    // meets the old token's end), whatever the server's clock says.
    clock.now += 56_000
    const due = burst(plantly, server.url, 'due')
    const inWindow = await settleAll(due)
    for (const { sent: s, response } of inWindow) expect(response?.status, s.kind).toBe(200)
    expect(server.counters.refreshes).toBe(1)
    expect(plantly.stats().replays).toBe(0)
    expectNothingLostOrDoubled(server, due)
    // The server ends the token early: one refresh after the 401s, every replayable call replayed once.
    server.mock.expireAccessTokens()
    const late = burst(plantly, server.url, 'revoked')
    const after401 = await settleAll(late)
    for (const { sent: s, response } of after401) expect(response?.status, s.kind).toBe(200)
    expect(server.counters.refreshes).toBe(2)
    expectNothingLostOrDoubled(server, late)
  })
})
