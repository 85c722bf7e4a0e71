import { describe, expect, test } from 'vitest'
import { mockServer } from '../../helpers/mock-server.js'
import { plainClient, REDIS_URL, uniqueKey, until } from '../../helpers/redis.js'
import { startWorkers } from '../../helpers/workers.js'

// Several real OS processes share one session through Redis against the mock API with refresh-token rotation
// and reuse detection on (the mock's defaults). Waits are bounded only to detect hangs.
describe('processes sharing one session in Redis', () => {
  test('a storm across 8 processes makes exactly one refresh and no refresh token is ever reused', async () => {
    // A slow refresh keeps the others waiting on the lock while it runs.
    const server = await mockServer({ refreshLatencyMs: 1_000 })
    const key = uniqueKey('storm')
    const workers = await startWorkers(8, { baseURL: server.url, redisURL: REDIS_URL, key })
    const [first] = workers
    const loggedIn = await first?.call('login')
    const sessions = await Promise.all(workers.map((worker) => worker.call('session')))
    expect(new Set(sessions)).toEqual(new Set([loggedIn]))

    server.mock.expireAccessTokens()
    const results = await Promise.all(
      workers.map((worker, i) => worker.call('storm', { path: `/p${i}`, count: 10 })),
    )

    expect(results.flat()).toEqual(Array(80).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.refreshRejected).toBe(0)
    expect(server.counters.maxConcurrentRefreshes).toBe(1)
    const stats = await Promise.all(workers.map((worker) => worker.call('stats')))
    expect(stats.reduce((sum, s) => sum + s.refreshes, 0)).toBe(1)
    // More than one process met the expiry (a 401, then a replay) but did not refresh itself.
    expect(stats.filter((s) => s.replays > 0 && s.refreshes === 0).length).toBeGreaterThan(0)
    const after = await Promise.all(workers.map((worker) => worker.call('session')))
    expect(new Set(after).size).toBe(1)
    expect(after[0]).not.toBe(loggedIn)
    // The refresher announced it locally; every other process adopted it from Redis, without asking the server.
    const refreshEvents = workers.map((worker) => worker.events.filter((e) => e.event === 'refresh'))
    expect(refreshEvents.flat().filter((e) => e.source === 'local')).toHaveLength(1)
    expect(refreshEvents.filter((events) => events.some((e) => e.source === 'store'))).toHaveLength(7)
    expect(server.counters.logins).toBe(1)
    await Promise.all(workers.map((worker) => worker.call('exit')))
  }, 120_000)

  test('a refresh endpoint slower than 3 × the lock lease: the watchdog keeps the lock, 1 refresh, 0 reuse', async () => {
    // The lease is 1 s and the refresh takes 4 s: without extensions, a second process would take the lock after
    // 1 s and present the same refresh token (reuse detection would revoke the session).
    const server = await mockServer({ refreshLatencyMs: 4_000 })
    const key = uniqueKey('watchdog')
    const workers = await startWorkers(6, {
      baseURL: server.url,
      redisURL: REDIS_URL,
      key,
      lockLeaseMs: 1_000,
    })
    const [first] = workers
    await first?.call('login')
    await Promise.all(workers.map((worker) => worker.call('session')))

    server.mock.expireAccessTokens()
    const inspector = await plainClient()
    const storming = Promise.all(
      workers.map((worker, i) => worker.call('storm', { path: `/w${i}`, count: 5 })),
    )
    await until(() => server.counters.maxConcurrentRefreshes === 1, 'the refresh to reach the server')
    const holder = await inspector.get(`${key}:lock`)
    expect(holder).toBeTruthy()
    const results = await storming

    expect(results.flat()).toEqual(Array(30).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.refreshRejected).toBe(0)
    expect(server.counters.maxConcurrentRefreshes).toBe(1)
    const stats = await Promise.all(workers.map((worker) => worker.call('stats')))
    expect(stats.reduce((sum, s) => sum + s.refreshes, 0)).toBe(1)
    expect(new Set(await Promise.all(workers.map((worker) => worker.call('session')))).size).toBe(1)
    expect(await inspector.exists(`${key}:lock`)).toBe(0)
    await Promise.all(workers.map((worker) => worker.call('exit')))
  }, 120_000)

  test('when the lock holder is SIGKILLed mid-refresh, another process takes over after the lease', async () => {
    const server = await mockServer()
    const key = uniqueKey('kill')
    // refreshTimeoutMs 3 s: the lease is 2 × 3 s + 1 s, and the holder is killed long before its own timeout.
    const [holder, survivor] = await startWorkers(2, {
      baseURL: server.url,
      redisURL: REDIS_URL,
      key,
      refreshTimeoutMs: 3_000,
    })
    if (!holder || !survivor) throw new Error('workers did not start')
    await holder.call('login')
    await survivor.call('session')

    // The holder's refresh reaches the server and is never answered (nor acted on): it is mid-call.
    server.inject({ on: 'refresh', hang: true })
    holder.call('refresh').catch(() => {}) // rejected when the process dies
    await until(() => server.counters.faultsServed === 1, 'the holder’s refresh to reach the server')
    const inspector = await plainClient()
    const heldBy = await inspector.get(`${key}:lock`)
    expect(heldBy).toBeTruthy()

    holder.child.kill('SIGKILL')
    expect(await holder.exited).toBe('SIGKILL')
    // It died holding the lock: nobody released it, only the lease can.
    expect(await inspector.get(`${key}:lock`)).toBe(heldBy)
    expect(await inspector.pTTL(`${key}:lock`)).toBeGreaterThan(0)

    server.mock.expireAccessTokens()
    expect(await survivor.call('fetch', { path: '/after-takeover' })).toBe(200)
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    expect(await survivor.call('stats')).toMatchObject({ refreshes: 1, replays: 1 })
    expect(server.log.at(-1)).toMatchObject({ path: '/after-takeover', status: 200 })
    expect(await inspector.exists(`${key}:lock`)).toBe(0) // the survivor released its own lock
    await survivor.call('exit')
  }, 120_000)

  test('a holder killed after the server rotated the tokens takes them along: the next process logs in again', async () => {
    const server = await mockServer()
    const key = uniqueKey('kill-late')
    const [holder, survivor] = await startWorkers(2, {
      baseURL: server.url,
      redisURL: REDIS_URL,
      key,
      refreshTimeoutMs: 3_000,
      credentials: true,
    })
    if (!holder || !survivor) throw new Error('workers did not start')
    await holder.call('login')
    await survivor.call('session')

    // The server acts on the holder's refresh (rotating the refresh token) only after the holder is dead.
    server.inject({ on: 'refresh', delayMs: 300 })
    holder.call('refresh').catch(() => {})
    await until(() => server.counters.faultsServed === 1, 'the holder’s refresh to reach the server')
    holder.child.kill('SIGKILL')
    expect(await holder.exited).toBe('SIGKILL')
    await until(() => server.counters.refreshes === 1, 'the server to rotate the dead holder’s tokens')

    server.mock.expireAccessTokens()
    expect(await survivor.call('fetch', { path: '/after-relogin' })).toBe(200)
    // The survivor's refresh presented the rotated-out token (the server revoked that session), then it logged in.
    expect(server.counters.reuseDetected).toBe(1)
    expect(server.counters.logins).toBe(2)
    expect(await survivor.call('stats')).toMatchObject({ refreshes: 1, logins: 1 })
    expect(survivor.events.some((e) => e.event === 'login' && e.source === 'local')).toBe(true)
    expect(survivor.events.some((e) => e.event === 'expired')).toBe(false)
    await survivor.call('exit')
  }, 120_000)

  test('a logout in one process logs every process out', async () => {
    const server = await mockServer()
    const key = uniqueKey('logout')
    const workers = await startWorkers(3, { baseURL: server.url, redisURL: REDIS_URL, key })
    const [leaver, ...others] = workers
    if (!leaver) throw new Error('workers did not start')
    await leaver.call('login')
    for (const other of others) expect(await other.call('fetch', { path: '/before' })).toBe(200)

    await leaver.call('logout')
    expect(server.counters.logouts).toBe(1)
    for (const other of others) {
      await until(
        () => other.events.some((e) => e.event === 'logout' && e.source === 'store'),
        'the logout to reach every process',
      )
    }
    for (const [i, other] of others.entries()) {
      expect(await other.call('session')).toBeUndefined()
      expect(await other.call('fetch', { path: `/after-logout/${i}` })).toBe(401)
      expect(server.log.find((entry) => entry.path === `/after-logout/${i}`)).toMatchObject({
        token: undefined,
      })
    }
    expect(server.counters.refreshes).toBe(0)
    await Promise.all(workers.map((worker) => worker.call('exit')))
  }, 120_000)

  test('after the key is lost, a running process hears the next login and logout', async () => {
    const server = await mockServer()
    const key = uniqueKey('lost')
    const [running] = await startWorkers(1, { baseURL: server.url, redisURL: REDIS_URL, key })
    if (!running) throw new Error('the worker did not start')
    const old = await running.call('login')
    expect(await running.call('fetch', { path: '/before' })).toBe(200)

    // The key is gone (evicted, flushed, a restart without persistence); then two processes that start
    // afterwards: one logs in, the other logs out.
    await (await plainClient()).del(key)
    const [loggingIn, loggingOut] = await startWorkers(2, { baseURL: server.url, redisURL: REDIS_URL, key })
    if (!loggingIn || !loggingOut) throw new Error('workers did not start')
    const fresh = await loggingIn.call('login')
    expect(fresh).not.toBe(old)
    await until(
      () => running.events.some((e) => e.event === 'login' && e.source === 'store'),
      'the running process to hear the login',
    )
    expect(await running.call('session')).toBe(fresh)

    await loggingOut.call('logout')
    await until(
      () => running.events.some((e) => e.event === 'logout' && e.source === 'store'),
      'the running process to hear the logout',
    )
    expect(await running.call('fetch', { path: '/after-logout' })).toBe(401)
    expect(server.log.find((entry) => entry.path === '/after-logout')).toMatchObject({ token: undefined })
    expect(server.counters.logouts).toBe(1) // the session the running process held last, ended on the server
    await Promise.all([running, loggingIn, loggingOut].map((worker) => worker.call('exit')))
  }, 120_000)
})
