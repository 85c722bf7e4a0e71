// sessionPool and cookieSessions take `instrumentation: otel(...)` like createSessionFetch: each user's client
// tells of its own session calls, parented to that user's request, and no user's token is in any span.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { describe, expect, test } from 'vitest'
import { otel } from '../../src/otel/index.js'
import { cookieSessions, sessionPool } from '../../src/server/index.js'
import type { MockServer } from '../../src/testing/mock/index.js'
import { CookieJar, callApp, cookieAppHandler } from '../helpers/cookie-app.js'
import { mockServer } from '../helpers/mock-server.js'
import { type Telemetry, telemetry, total, withContextManager } from '../helpers/otel.js'
import { familyOf, manyUsers, userCredentials } from '../helpers/users-ledger.js'

withContextManager()

const SECRET = 'a-secret-of-at-least-32-bytes-for-tests!'
const COOKIE = { name: 'plantly_session', path: '/', sameSite: 'lax', secure: false } as const

/** Every token the server hands out or is shown from now on, and every password it is sent. */
function secretsOf(server: MockServer): Set<string> {
  const secrets = new Set<string>()
  const handle = server.mock.handle.bind(server.mock)
  server.mock.handle = async (request) => {
    const body = new TextDecoder().decode(request.body)
    const authorization = request.headers.get('authorization')
    if (authorization) secrets.add(authorization.replace(/^Bearer /i, ''))
    if (body) {
      const password = (JSON.parse(body) as { password?: string }).password
      if (password) secrets.add(password)
    }
    const reply = await handle(request)
    if (reply.kind === 'response' && reply.body?.startsWith('{')) {
      const answer = JSON.parse(reply.body) as Record<string, unknown>
      for (const name of ['access_token', 'refresh_token']) {
        if (typeof answer[name] === 'string') secrets.add(answer[name])
      }
    }
    return reply
  }
  return secrets
}

function expectNoSecret(seen: Telemetry, secrets: Set<string>) {
  expect(secrets.size).toBeGreaterThan(0)
  const recorded = JSON.stringify(
    seen.spans().map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })),
  )
  for (const secret of secrets) expect(recorded).not.toContain(secret)
}

const parentOf = (span: ReadableSpan | undefined) => span?.parentSpanContext?.spanId
const idOf = (span: ReadableSpan | undefined) => span?.spanContext().spanId

describe('session-fetch/otel in sessionPool and cookieSessions', () => {
  test('sessionPool: a login span per user under that user’s span; one user’s refresh is one span, under its request', async () => {
    const server = await mockServer({ users: manyUsers(2) })
    const secrets = secretsOf(server)
    const seen = telemetry()
    const tracer = seen.tracerProvider.getTracer('test')
    const pool = sessionPool({
      baseURL: server.url,
      instrumentation: otel({ tracerProvider: seen.tracerProvider, meterProvider: seen.meterProvider }),
    })
    await Promise.all(
      [0, 1].map((i) =>
        tracer.startActiveSpan(`login u${i}`, async (span) => {
          await pool.for(`u${i}`).login(userCredentials(i))
          span.end()
        }),
      ),
    )
    const logins = seen.spans('session-fetch login')
    expect(logins).toHaveLength(2)
    expect(logins.map(parentOf).sort()).toEqual(
      [idOf(seen.spans('login u0')[0]), idOf(seen.spans('login u1')[0])].sort(),
    )
    for (const span of logins) expect(span.attributes['session_fetch.trigger']).toBe('manual')

    // Every token expires at the server, but only u0 makes requests: u0's client alone refreshes.
    server.mock.expireAccessTokens()
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, n) =>
        tracer.startActiveSpan(`request u0 ${n}`, async (span) => {
          const answer = await pool.for('u0').fetch(`/u/u0/${n}`)
          span.end()
          return answer.status
        }),
      ),
    )
    expect(statuses).toEqual(Array(10).fill(200))
    expect(server.counters.refreshes).toBe(1)
    const refreshes = seen.spans('session-fetch refresh')
    expect(refreshes).toHaveLength(1)
    expect(refreshes[0]?.attributes['session_fetch.trigger']).toBe('unauthorized')
    const u0Requests = seen.spans().filter((span) => span.name.startsWith('request u0 '))
    expect(u0Requests.map(idOf)).toContain(parentOf(refreshes[0]))
    expect(pool.for('u0').stats().refreshes).toBe(1)
    expect(pool.for('u1').stats().refreshes).toBe(0)

    // u1's refresh is its own span, under u1's span, with u1's client's token in the requests that follow.
    await tracer.startActiveSpan('refresh u1', async (span) => {
      await pool.for('u1').refresh()
      span.end()
    })
    const both = seen.spans('session-fetch refresh')
    expect(both).toHaveLength(2)
    expect(both[1]?.attributes['session_fetch.trigger']).toBe('manual')
    expect(parentOf(both[1])).toBe(idOf(seen.spans('refresh u1')[0]))
    expect((await pool.for('u1').fetch('/u/u1/after')).status).toBe(200)
    expect(familyOf(server.log.at(-1)?.token)).toBe(
      familyOf((await pool.for('u1').getSession())?.access_token),
    )

    const metrics = await seen.metrics()
    expect(total(metrics.get('session_fetch.logins'), { 'session_fetch.outcome': 'ok' })).toBe(2)
    expect(total(metrics.get('session_fetch.refreshes'), { 'session_fetch.trigger': 'unauthorized' })).toBe(1)
    expect(total(metrics.get('session_fetch.refreshes'), { 'session_fetch.trigger': 'manual' })).toBe(1)
    expectNoSecret(seen, secrets)
    await pool.close()
  })

  test('cookieSessions: each browser’s login under its HTTP request’s span; one browser’s refresh is one span', async () => {
    const server = await mockServer({ users: manyUsers(2) })
    const secrets = secretsOf(server)
    const seen = telemetry()
    const tracer = seen.tracerProvider.getTracer('test')
    const sessions = cookieSessions({
      baseURL: server.url,
      secrets: [SECRET],
      cookie: COOKIE,
      instrumentation: otel({ tracerProvider: seen.tracerProvider, meterProvider: seen.meterProvider }),
    })
    // The app's own span for each HTTP request it serves (what an HTTP server instrumentation makes).
    const handler = cookieAppHandler(sessions)
    const app = createServer((req: IncomingMessage, res: ServerResponse) =>
      tracer.startActiveSpan(`${req.method} ${req.url}`, async (span) => {
        await handler(req, res)
        span.end()
      }),
    )
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`
    try {
      const jars = await Promise.all(
        [0, 1].map(async (i) => {
          const answer = await callApp(url, `/login/${i}`, '', 'POST')
          expect(answer.body.family).toEqual(expect.any(Number))
          return new CookieJar().apply(answer.setCookies)
        }),
      )
      const logins = seen.spans('session-fetch login')
      expect(logins).toHaveLength(2)
      expect(logins.map(parentOf).sort()).toEqual(
        [idOf(seen.spans('POST /login/0')[0]), idOf(seen.spans('POST /login/1')[0])].sort(),
      )

      // Browser 0 only, across an expiry: one refresh, under one of its requests' spans.
      server.mock.expireAccessTokens()
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, n) => callApp(url, `/call/${n}`, jars[0]?.header)),
      )
      expect(answers.map((answer) => answer.body.status)).toEqual(Array(8).fill(200))
      expect(server.counters.refreshes).toBe(1)
      expect(server.counters.reuseDetected).toBe(0)
      const refreshes = seen.spans('session-fetch refresh')
      expect(refreshes).toHaveLength(1)
      expect(refreshes[0]?.attributes['session_fetch.trigger']).toBe('unauthorized')
      const calls = seen.spans().filter((span) => span.name.startsWith('GET /call/'))
      expect(calls).toHaveLength(8)
      expect(calls.map(idOf)).toContain(parentOf(refreshes[0]))

      // Browser 1 logs out: its own logout span, under its request.
      const out = await callApp(url, '/logout', jars[1]?.header, 'POST')
      expect(out.body).toEqual({ ok: true })
      const [logout] = seen.spans('session-fetch logout')
      expect(parentOf(logout)).toBe(idOf(seen.spans('POST /logout')[0]))
      expect(seen.spans('session-fetch logout')).toHaveLength(1)

      const metrics = await seen.metrics()
      expect(total(metrics.get('session_fetch.logins'))).toBe(2)
      expect(total(metrics.get('session_fetch.refreshes'))).toBe(1)
      expectNoSecret(seen, secrets)
    } finally {
      app.closeAllConnections()
      await new Promise((resolve) => app.close(resolve))
      await sessions.close()
    }
  })
})
