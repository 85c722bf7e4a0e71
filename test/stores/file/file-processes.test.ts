import { readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { createSessionFetch } from '../../../src/index.js'
import { tempFolder, testFileStore } from '../../helpers/file-store.js'
import { DEMO_USER, mockServer } from '../../helpers/mock-server.js'
import { until } from '../../helpers/redis.js'
import { startWorkers } from '../../helpers/workers.js'

// Real OS processes share one session through a file against the mock API with refresh-token rotation and
// reuse detection on (the mock's defaults). Waits are bounded only to detect hangs.
describe('processes sharing one session in a file', () => {
  test('8 processes started right after the access token expired make exactly one refresh, and all succeed', async () => {
    // A slow refresh keeps the others waiting on the lock while it runs.
    const server = await mockServer({ refreshLatencyMs: 500 })
    const file = join(await tempFolder(), 'session.json')
    const login = createSessionFetch({ baseURL: server.url, store: testFileStore({ path: file }) })
    await login.login(DEMO_USER)
    const loggedIn = (await login.getSession())?.access_token
    const loginVersion = (await testFileStore({ path: file }).read()).version
    login.close()

    server.mock.expireAccessTokens()
    const workers = await startWorkers(8, { baseURL: server.url, file })
    const started = performance.now()
    const results = await Promise.all(
      workers.map((worker, i) => worker.call('storm', { path: `/p${i}`, count: 5 })),
    )
    const elapsed = performance.now() - started

    expect(results.flat()).toEqual(Array(40).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.refreshRejected).toBe(0)
    expect(server.counters.maxConcurrentRefreshes).toBe(1)
    const stats = await Promise.all(workers.map((worker) => worker.call('stats')))
    expect(stats.reduce((sum, s) => sum + s.refreshes, 0)).toBe(1)
    const after = await Promise.all(workers.map((worker) => worker.call('session')))
    expect(new Set(after).size).toBe(1)
    const stored = await testFileStore({ path: file }).read()
    expect(stored.record?.session.access_token).not.toBe(loggedIn)
    expect(stored).toMatchObject({ reason: 'refresh' })
    expect(stored.version).toBeGreaterThan(loginVersion)

    // Once more, now that every process has loaded what a refresh needs: the next expiry, one more refresh.
    server.mock.expireAccessTokens()
    const again = performance.now()
    const second = await Promise.all(
      workers.map((worker, i) => worker.call('storm', { path: `/q${i}`, count: 5 })),
    )
    const warm = performance.now() - again
    expect(second.flat()).toEqual(Array(40).fill(200))
    expect(server.counters.refreshes).toBe(2)
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.maxConcurrentRefreshes).toBe(1)
    console.info(
      `file store, 8 processes after expiry: 2 storms, ${server.counters.refreshes} refreshes, ${server.counters.reuseDetected} reuse; ${Math.round(elapsed)} ms for the first 40 requests, ${Math.round(warm)} ms for the next 40`,
    )
    await Promise.all(workers.map((worker) => worker.call('exit')))
  }, 120_000)

  test('when the lock holder is SIGKILLed mid-refresh, another process takes over (its pid is gone)', async () => {
    const server = await mockServer()
    const file = join(await tempFolder(), 'session.json')
    const [holder, survivor] = await startWorkers(2, { baseURL: server.url, file, refreshTimeoutMs: 30_000 })
    if (!holder || !survivor) throw new Error('workers did not start')
    await holder.call('login')
    await survivor.call('session')

    // The holder's refresh reaches the server and is never answered: it is mid-call, holding the lock, whose
    // lease (2 × 30 s + 1 s) outlasts this test's hang detectors.
    server.inject({ on: 'refresh', hang: true })
    holder.call('refresh').catch(() => {}) // rejected when the process dies
    await until(() => server.counters.faultsServed === 1, 'the holder’s refresh to reach the server')
    const lock = JSON.parse(await readFile(`${file}.lock`, 'utf8')) as { pid: number; until: number }
    expect(lock.pid).toBe(holder.child.pid)

    holder.child.kill('SIGKILL')
    expect(await holder.exited).toBe('SIGKILL')
    expect(JSON.parse(await readFile(`${file}.lock`, 'utf8'))).toEqual(lock) // nobody released it

    server.mock.expireAccessTokens()
    expect(await survivor.call('fetch', { path: '/after-takeover' })).toBe(200)
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    expect(await survivor.call('stats')).toMatchObject({ refreshes: 1, replays: 1 })
    await expect(stat(`${file}.lock`)).rejects.toThrow(/ENOENT/) // the survivor released its own lock
    await survivor.call('exit')
  }, 120_000)

  test('a holder that stopped responding (SIGSTOP) is taken over once its lease has ended', async () => {
    const server = await mockServer()
    const file = join(await tempFolder(), 'session.json')
    // refreshTimeoutMs 1.5 s: the lease is 2 × 1.5 s + 1 s.
    const [holder, survivor] = await startWorkers(2, { baseURL: server.url, file, refreshTimeoutMs: 1_500 })
    if (!holder || !survivor) throw new Error('workers did not start')
    await holder.call('login')
    await survivor.call('session')

    server.inject({ on: 'refresh', hang: true })
    holder.call('refresh').catch(() => {})
    await until(() => server.counters.faultsServed === 1, 'the holder’s refresh to reach the server')
    const lock = JSON.parse(await readFile(`${file}.lock`, 'utf8')) as { pid: number; until: number }
    holder.child.kill('SIGSTOP') // alive, holding the lock, doing nothing

    server.mock.expireAccessTokens()
    expect(await survivor.call('fetch', { path: '/after-lease' })).toBe(200)
    expect(Date.now()).toBeGreaterThanOrEqual(lock.until) // not before the lease ended
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    await survivor.call('exit')
  }, 120_000)

  test('a logout in one process is seen by the others, which send no token after it', async () => {
    const server = await mockServer()
    const file = join(await tempFolder(), 'session.json')
    const workers = await startWorkers(3, { baseURL: server.url, file })
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
  // A lock file whose lease end lies a year ahead: forged, written by a holder on another host, or by one whose
  // clock has since been set back. Every wait ends after the longest lease the store grants (lockLeaseMs).
  const YEAR_MS = 365 * 24 * 3_600_000
  const forged: [string, string, (path: string) => Promise<void>][] = [
    [
      'a holder on another host',
      '.lock',
      (lock) =>
        writeLock(lock, { owner: 'far', pid: 1, host: 'elsewhere.example', until: Date.now() + YEAR_MS }),
    ],
    [
      'a live process of this host, its clock set back a year',
      '.lock',
      (lock) =>
        writeLock(lock, { owner: 'back', pid: process.pid, host: hostname(), until: Date.now() + YEAR_MS }),
    ],
    [
      'a file that is no lock record, dated a year ahead',
      '.lock',
      async (lock) => {
        await writeFile(lock, 'not a record', { mode: 0o600 })
        const ahead = new Date(Date.now() + YEAR_MS)
        await utimes(lock, ahead, ahead)
      },
    ],
    [
      'the write lock, a holder on another host',
      '.write.lock',
      (lock) =>
        writeLock(lock, { owner: 'far', pid: 1, host: 'elsewhere.example', until: Date.now() + YEAR_MS }),
    ],
  ]
  test.each(forged)(
    'a lock file with its lease end a year ahead (%s) holds a refresh up for the longest lease at most',
    async (what, suffix, plant) => {
      const server = await mockServer()
      const file = join(await tempFolder(), 'session.json')
      // The lease the store grants (and so the longest wait for a refresh lock) is 1.5 s here; the write lock's
      // is 10 s.
      const [worker] = await startWorkers(1, {
        baseURL: server.url,
        file,
        lockLeaseMs: 1_500,
        refreshTimeoutMs: 500,
      })
      if (!worker) throw new Error('the worker did not start')
      await worker.call('login')
      await plant(`${file}${suffix}`)

      server.mock.expireAccessTokens()
      const started = performance.now()
      expect(await worker.call('fetch', { path: '/after-the-wait' })).toBe(200)
      console.info(
        `forged lock (${what}): the refresh went ahead after ${Math.round(performance.now() - started)} ms`,
      )
      expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0, refreshRejected: 0 })
      expect(await readdir(join(file, '..'))).toEqual(['session.json']) // the stale lock went, and its own
      await worker.call('exit')
    },
    60_000,
  )

  test('after the session file is deleted, a running process hears the next login and logout', async () => {
    const server = await mockServer()
    const file = join(await tempFolder(), 'session.json')
    const [running] = await startWorkers(1, { baseURL: server.url, file })
    if (!running) throw new Error('the worker did not start')
    const old = await running.call('login')
    expect(await running.call('fetch', { path: '/before' })).toBe(200)

    // As some error messages advise; the session the running process holds stays live on the server. Then two
    // processes that start afterwards (two command runs, say): one logs in, the other logs out.
    await rm(file)
    const [loggingIn, loggingOut] = await startWorkers(2, { baseURL: server.url, file })
    if (!loggingIn || !loggingOut) throw new Error('workers did not start')
    const fresh = await loggingIn.call('login')
    await until(
      () => running.events.some((e) => e.event === 'login' && e.source === 'store'),
      'the running process to hear the login',
    )
    expect(await running.call('session')).toBe(fresh)
    expect(fresh).not.toBe(old)

    expect(await loggingOut.call('session')).toBe(fresh)
    await loggingOut.call('logout')
    await until(
      () => running.events.some((e) => e.event === 'logout' && e.source === 'store'),
      'the running process to hear the logout',
    )
    expect(await running.call('session')).toBeUndefined()
    expect(await running.call('fetch', { path: '/after-logout' })).toBe(401)
    expect(server.log.find((entry) => entry.path === '/after-logout')).toMatchObject({ token: undefined })
    expect(server.counters.logouts).toBe(1) // the session the running process held last, ended on the server
    await Promise.all([running, loggingIn, loggingOut].map((worker) => worker.call('exit')))
  }, 120_000)
})

async function writeLock(path: string, record: object): Promise<void> {
  await writeFile(path, JSON.stringify(record), { mode: 0o600 })
}
