import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { describe, expect, test } from 'vitest'
import { createSessionFetch, OptionError, type SessionFetch } from '../../src/index.js'
import { otel } from '../../src/otel/index.js'
import { until } from '../helpers/adapters.js'
import { manualClock } from '../helpers/clock.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'
import { type Telemetry, telemetry, total, withContextManager } from '../helpers/otel.js'

withContextManager()

async function loggedIn(options: { accessTtlSeconds?: number } = {}) {
  const server = await mockServer({ accessTtlSeconds: options.accessTtlSeconds ?? 60 })
  const time = manualClock()
  const seen = telemetry()
  const plantly = createSessionFetch({
    baseURL: server.url,
    now: time.now,
    instrumentation: otel({ tracerProvider: seen.tracerProvider, meterProvider: seen.meterProvider }),
  })
  await plantly.login(DEMO_USER)
  return { server, time, seen, plantly }
}

/** No token or password anywhere in what was recorded. */
async function expectNoSecrets(seen: Telemetry, plantly: SessionFetch, also: string[] = []) {
  const session = await plantly.getSession()
  const recorded = JSON.stringify(
    seen.spans().map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })),
  )
  for (const secret of [session?.access_token, session?.refresh_token, DEMO_USER.password, ...also]) {
    if (secret) expect(recorded).not.toContain(secret)
  }
}

describe('session-fetch/otel: spans and metrics of the session calls', () => {
  test('a 500-call storm across an expiry: one refresh span (due) with 500 waiters, the counters exact', async () => {
    const { server, time, seen, plantly } = await loggedIn()
    const before = await plantly.getSession()
    time.advance(56_000) // inside the must-refresh margin: every request waits for the one refresh
    const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => plantly.fetch(`/storm/${i}`)))
    expect(answers.every((answer) => answer.status === 200)).toBe(true)
    expect(server.counters.refreshes).toBe(1)

    const refreshes = seen.spans('session-fetch refresh')
    expect(refreshes).toHaveLength(1)
    const span = refreshes[0]
    expect(span?.kind).toBe(SpanKind.CLIENT)
    expect(span?.attributes).toMatchObject({
      'session_fetch.trigger': 'due',
      'session_fetch.waiters': 500,
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(server.url).port),
      'http.response.status_code': 200,
    })
    expect(span?.status.code).not.toBe(SpanStatusCode.ERROR)

    const metrics = await seen.metrics()
    expect(metrics.get('session_fetch.refreshes')).toEqual([
      { attributes: { 'session_fetch.trigger': 'due', 'session_fetch.outcome': 'ok' }, value: 1 },
    ])
    expect(total(metrics.get('session_fetch.refresh.duration'))).toBe(1)
    expect(total(metrics.get('session_fetch.wait.duration'))).toBe(500)
    expect(metrics.get('session_fetch.replays')).toBeUndefined()
    expect(total(metrics.get('session_fetch.logins'), { 'session_fetch.outcome': 'ok' })).toBe(1)
    expect((await plantly.getSession())?.access_token).not.toBe(before?.access_token)
    await expectNoSecrets(seen, plantly, [before?.access_token ?? '', before?.refresh_token ?? ''])
  })

  test('a 401 storm: one refresh span (unauthorized); a replay event and a count for each 401', async () => {
    const { server, seen, plantly } = await loggedIn()
    const tracer = seen.tracerProvider.getTracer('test')
    server.mock.expireAccessTokens()
    const requests = Array.from({ length: 40 }, (_, i) =>
      tracer.startActiveSpan(`request ${i}`, async (span) => {
        try {
          return (await plantly.fetch(`/after-expiry/${i}`)).status
        } finally {
          span.end()
        }
      }),
    )
    expect(await Promise.all(requests)).toEqual(Array(40).fill(200))
    expect(server.counters.refreshes).toBe(1)
    const refused = server.counters.apiUnauthorized
    expect(refused).toBeGreaterThan(0)

    const refreshes = seen.spans('session-fetch refresh')
    expect(refreshes).toHaveLength(1)
    expect(refreshes[0]?.attributes['session_fetch.trigger']).toBe('unauthorized')
    // The 401s that come back while the refresh runs wait for it; those after it replay at once.
    const waiters = refreshes[0]?.attributes['session_fetch.waiters'] as number
    expect(waiters).toBeGreaterThanOrEqual(1)
    expect(waiters).toBeLessThanOrEqual(refused)
    const replayEvents = seen
      .spans()
      .filter((span) => span.name.startsWith('request '))
      .flatMap((span) => span.events.filter((event) => event.name === 'session-fetch.replay'))
    expect(replayEvents).toHaveLength(refused)
    expect(plantly.stats().replays).toBe(refused)
    expect(total((await seen.metrics()).get('session_fetch.replays'))).toBe(refused)
    await expectNoSecrets(seen, plantly)
  })

  test('a refused refresh: ERROR, error.type refresh_rejected, outcome rejected', async () => {
    const { server, time, seen, plantly } = await loggedIn()
    server.mock.revokeAll()
    time.advance(56_000)
    const answer = await plantly.fetch('/after-revocation').catch((error: unknown) => error)
    expect(answer).toBeDefined()
    const [span] = seen.spans('session-fetch refresh')
    expect(span?.status.code).toBe(SpanStatusCode.ERROR)
    expect(span?.attributes).toMatchObject({
      'session_fetch.trigger': 'due',
      'error.type': 'refresh_rejected',
      'http.response.status_code': 401,
    })
    expect((await seen.metrics()).get('session_fetch.refreshes')).toEqual([
      { attributes: { 'session_fetch.trigger': 'due', 'session_fetch.outcome': 'rejected' }, value: 1 },
    ])
  })

  test('a refresh that cannot complete (503 and its retries): error.type is the callers’ code, refresh_failed', async () => {
    const { server, time, seen, plantly } = await loggedIn()
    server.inject({ on: 'refresh', status: 503, times: 3 })
    time.advance(61_000) // expired: the request cannot go with the old token
    const error = await plantly.fetch('/during-outage').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((error as { code?: string } | undefined)?.code).toBe('refresh_failed')
    const spans = seen.spans('session-fetch refresh')
    expect(spans).toHaveLength(1) // the retries are inside the one span
    expect(spans[0]?.status.code).toBe(SpanStatusCode.ERROR)
    expect(spans[0]?.attributes).toMatchObject({
      'error.type': 'refresh_failed',
      'http.response.status_code': 503,
      'session_fetch.waiters': 1,
    })
    expect(
      total((await seen.metrics()).get('session_fetch.refreshes'), { 'session_fetch.outcome': 'failed' }),
    ).toBe(1)
  })

  test('a refresh whose answer never comes: its span ends at the deadline, refresh_failed, no status', async () => {
    const server = await mockServer()
    const time = manualClock()
    const seen = telemetry()
    const plantly = createSessionFetch({
      baseURL: server.url,
      now: time.now,
      refreshTimeoutMs: 300,
      instrumentation: otel({ tracerProvider: seen.tracerProvider, meterProvider: seen.meterProvider }),
    })
    await plantly.login(DEMO_USER)
    server.inject({ on: 'refresh', hang: true, times: 5 })
    time.advance(61_000) // expired, and the client's clock far ahead: span times do not read it
    const error = await plantly.fetch('/while-hanging').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((error as { code?: string } | undefined)?.code).toBe('refresh_failed')
    const spans = seen.spans('session-fetch refresh')
    expect(spans).toHaveLength(1)
    const [span] = spans
    expect(span?.status.code).toBe(SpanStatusCode.ERROR)
    expect(span?.attributes['error.type']).toBe('refresh_failed')
    expect(span?.attributes['http.response.status_code']).toBeUndefined()
    const seconds = (span?.duration[0] ?? 0) + (span?.duration[1] ?? 0) / 1e9
    expect(seconds).toBeGreaterThanOrEqual(0.25) // it lasted until the deadline…
    expect(seconds).toBeLessThan(30) // …and not the 61 s the client's clock was moved by
  })

  test('refresh-ahead: trigger ahead, no waiter, no wait recorded', async () => {
    const { server, time, seen, plantly } = await loggedIn()
    time.advance(40_000) // inside the 30 s refresh window, outside the 5 s margin
    expect((await plantly.fetch('/ahead')).status).toBe(200)
    await until(() => plantly.stats().pendingRefreshes === 0, 'the refresh-ahead')
    expect(server.counters.refreshes).toBe(1)
    const [span] = seen.spans('session-fetch refresh')
    expect(span?.attributes).toMatchObject({ 'session_fetch.trigger': 'ahead', 'session_fetch.waiters': 0 })
    const metrics = await seen.metrics()
    expect(metrics.get('session_fetch.wait.duration')).toBeUndefined()
    expect(total(metrics.get('session_fetch.refreshes'), { 'session_fetch.trigger': 'ahead' })).toBe(1)
  })

  test('spans are parented to the caller’s active span, and the wait is an event on it', async () => {
    const { time, seen, plantly } = await loggedIn()
    const tracer = seen.tracerProvider.getTracer('test')
    time.advance(56_000)
    await tracer.startActiveSpan('GET /dashboard', async (parent) => {
      expect((await plantly.fetch('/widgets')).status).toBe(200)
      parent.end()
    })
    const [parent] = seen.spans('GET /dashboard')
    const [refresh] = seen.spans('session-fetch refresh')
    expect(refresh?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId)
    expect(refresh?.spanContext().traceId).toBe(parent?.spanContext().traceId)
    const wait = parent?.events.find((event) => event.name === 'session-fetch.wait')
    expect(wait?.attributes?.['session_fetch.wait.duration']).toBeGreaterThan(0)
    // A refresh() made inside a span is parented to it, with trigger manual.
    await tracer.startActiveSpan('job', async (job) => {
      await plantly.refresh()
      job.end()
    })
    const manual = seen
      .spans('session-fetch refresh')
      .find((span) => span.attributes['session_fetch.trigger'] === 'manual')
    expect(manual?.parentSpanContext?.spanId).toBe(seen.spans('job')[0]?.spanContext().spanId)
    expect(context.active()).toBe(context.active()) // the context manager is left as it was
  })

  test('login() and logout(): their spans (trigger manual), and the logins counter', async () => {
    const { seen, plantly } = await loggedIn()
    await plantly.logout()
    await expect(plantly.login({ ...DEMO_USER, password: 'wrong password' })).rejects.toThrow()
    const logins = seen.spans('session-fetch login')
    expect(
      logins.map((span) => [span.attributes['session_fetch.trigger'], span.attributes['error.type']]),
    ).toEqual([
      ['manual', undefined],
      ['manual', 'login_rejected'],
    ])
    expect(logins[1]?.status.code).toBe(SpanStatusCode.ERROR)
    const [logout] = seen.spans('session-fetch logout')
    expect(logout?.attributes['session_fetch.trigger']).toBe('manual')
    expect(logout?.attributes['http.response.status_code']).toBeGreaterThanOrEqual(200)
    const metrics = await seen.metrics()
    expect(total(metrics.get('session_fetch.logins'), { 'session_fetch.outcome': 'ok' })).toBe(1)
    expect(total(metrics.get('session_fetch.logins'), { 'session_fetch.outcome': 'rejected' })).toBe(1)
    await expectNoSecrets(seen, plantly, ['wrong password'])
  })

  test('an unattended login from credentials: trigger unattended; refused credentials: login_rejected', async () => {
    const server = await mockServer()
    const seen = telemetry()
    let password = DEMO_USER.password as string
    const plantly = createSessionFetch({
      baseURL: server.url,
      credentials: () => ({ email_address: DEMO_USER.email_address, password }),
      loginBackoffMs: 0,
      instrumentation: otel({ tracerProvider: seen.tracerProvider, meterProvider: seen.meterProvider }),
    })
    expect((await plantly.fetch('/first')).status).toBe(200)
    const [login] = seen.spans('session-fetch login')
    expect(login?.attributes).toMatchObject({
      'session_fetch.trigger': 'unattended',
      'session_fetch.waiters': 1,
    })
    password = 'no longer the password'
    server.mock.revokeAll()
    await plantly.fetch('/after-revocation').catch(() => undefined)
    const refused = seen.spans('session-fetch login').at(-1)
    expect(refused?.attributes).toMatchObject({
      'session_fetch.trigger': 'unattended',
      'error.type': 'login_rejected',
    })
    expect(
      total((await seen.metrics()).get('session_fetch.logins'), { 'session_fetch.outcome': 'rejected' }),
    ).toBe(1)
    await expectNoSecrets(seen, plantly, [password])
  })

  test('a provider that throws breaks no request', async () => {
    const server = await mockServer()
    const broken = {
      getTracer: () => {
        throw new Error('tracer down')
      },
    }
    expect(() => otel({ tracerProvider: broken })).toThrow('tracer down') // at setup, where the app sees it
    const failing = {
      getTracer: () =>
        ({
          startSpan() {
            throw new Error('span down')
          },
        }) as never,
    }
    const meterFailing = {
      getMeter() {
        throw new Error('meter down')
      },
    }
    const plantly = createSessionFetch({
      baseURL: server.url,
      instrumentation: otel({ tracerProvider: failing, meterProvider: meterFailing }),
    })
    await plantly.login(DEMO_USER)
    server.mock.expireAccessTokens()
    expect((await plantly.fetch('/x')).status).toBe(200)
    expect(plantly.stats()).toMatchObject({ refreshes: 1, replays: 1 })
  })

  test('bad options are refused naming them', () => {
    expect(() => otel('yes' as never)).toThrow(/otel\(options\)/)
    expect(() => otel({ tracerProvider: {} as never })).toThrow(/tracerProvider/)
    expect(() => otel({ meterProvider: 1 as never })).toThrow(/meterProvider/)
    expect(() =>
      createSessionFetch({ baseURL: 'http://127.0.0.1:1', instrumentation: 'otel' as never }),
    ).toThrow(OptionError)
    expect(() => createSessionFetch({ baseURL: 'http://127.0.0.1:1', instrumentation: {} as never })).toThrow(
      /instrumentation/,
    )
  })

  test('the global providers are used when none is given (the tracer delegates once one is registered)', async () => {
    const server = await mockServer()
    const seen = telemetry()
    const plantly = createSessionFetch({ baseURL: server.url, instrumentation: otel() })
    trace.setGlobalTracerProvider(seen.tracerProvider)
    try {
      await plantly.login(DEMO_USER)
      expect(seen.spans('session-fetch login')).toHaveLength(1)
    } finally {
      trace.disable()
    }
  })
})
