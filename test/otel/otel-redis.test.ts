// Two clients sharing one session through Redis, each with its own otel() and its own SDK: the refresh is told
// by the client that made it, and only the waits by the other, which adopted the session from Redis.
import { describe, expect, test } from 'vitest'
import { createSessionFetch } from '../../src/index.js'
import { otel } from '../../src/otel/index.js'
import { testClock } from '../helpers/adapters.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'
import { type Telemetry, telemetry, total, withContextManager } from '../helpers/otel.js'
import { testStore, uniqueKey, until } from '../helpers/redis.js'

withContextManager()

const PER_CLIENT = 25

describe('session-fetch/otel with a Redis store shared by two clients', () => {
  test('across an expiry, with requests on both: one refresh span and count, at the client that made it; waits at both', async () => {
    // A refresh slow enough that the other client's requests certainly wait for it (behind the lock in Redis).
    const server = await mockServer({ refreshLatencyMs: 300 })
    const key = uniqueKey('otel')
    const clock = testClock()
    const clients = ['a', 'b'].map((name) => {
      const seen = telemetry()
      const plantly = createSessionFetch({
        baseURL: server.url,
        store: testStore({ key }),
        now: clock.now,
        instrumentation: otel({ tracerProvider: seen.tracerProvider, meterProvider: seen.meterProvider }),
      })
      return { name, seen, plantly }
    })
    const [a, b] = clients as [(typeof clients)[0], (typeof clients)[0]]
    const session = await a.plantly.login(DEMO_USER)
    await until(
      async () => (await b.plantly.getSession())?.access_token === session.access_token,
      'b to read a’s session from Redis',
    )

    clock.advance(61_000) // both find the access token expired: no request can go before a refresh
    const tracer = (seen: Telemetry) => seen.tracerProvider.getTracer('test')
    const answers = await Promise.all(
      clients.flatMap(({ name, seen, plantly }) =>
        Array.from({ length: PER_CLIENT }, (_, i) =>
          tracer(seen).startActiveSpan(`request ${name} ${i}`, async (span) => {
            try {
              return (await plantly.fetch(`/buyers/${name}/${i}`)).status
            } finally {
              span.end()
            }
          }),
        ),
      ),
    )
    expect(answers).toEqual(Array(2 * PER_CLIENT).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    expect((await a.plantly.getSession())?.access_token).toBe((await b.plantly.getSession())?.access_token)

    const refreshed = clients.filter(({ seen }) => seen.spans('session-fetch refresh').length > 0)
    expect(refreshed).toHaveLength(1)
    const refresher = refreshed[0] as (typeof clients)[0]
    const other = refresher === a ? b : a
    console.info(`otel-redis: client ${refresher.name} refreshed, ${other.name} adopted the session`)

    // The client that refreshed: one span, trigger due, its own requests as waiters; one refresh counted.
    const spans = refresher.seen.spans('session-fetch refresh')
    expect(spans).toHaveLength(1)
    expect(spans[0]?.attributes).toMatchObject({
      'session_fetch.trigger': 'due',
      'session_fetch.waiters': PER_CLIENT,
      'http.response.status_code': 200,
    })
    const ours = await refresher.seen.metrics()
    expect(ours.get('session_fetch.refreshes')).toEqual([
      { attributes: { 'session_fetch.trigger': 'due', 'session_fetch.outcome': 'ok' }, value: 1 },
    ])
    expect(total(ours.get('session_fetch.wait.duration'))).toBe(PER_CLIENT)

    // The other: no session call of its own, but every one of its requests waited (for the lock, then Redis).
    expect(other.seen.spans().filter((span) => span.name.startsWith('session-fetch '))).toEqual([])
    const theirs = await other.seen.metrics()
    expect(theirs.get('session_fetch.refreshes')).toBeUndefined()
    expect(theirs.get('session_fetch.refresh.duration')).toBeUndefined()
    const waits = theirs.get('session_fetch.wait.duration')
    expect(total(waits)).toBe(PER_CLIENT)
    expect(total(waits)).toBeGreaterThan(0)
    // Each of its requests has the wait as an event on its span.
    const waitEvents = other.seen
      .spans()
      .filter((span) => span.name.startsWith(`request ${other.name} `))
      .map((span) => span.events.filter((event) => event.name === 'session-fetch.wait').length)
    expect(waitEvents).toEqual(Array(PER_CLIENT).fill(1))

    // No token or password in anything either client recorded.
    const renewed = await a.plantly.getSession()
    for (const { seen } of clients) {
      const recorded = JSON.stringify(
        seen.spans().map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })),
      )
      for (const secret of [
        session.access_token,
        session.refresh_token,
        renewed?.access_token,
        renewed?.refresh_token,
        DEMO_USER.password,
      ]) {
        if (secret) expect(recorded).not.toContain(secret)
      }
    }
    await Promise.all(clients.map(({ plantly }) => plantly.close()))
  })
})
