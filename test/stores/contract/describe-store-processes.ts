// The store contract across OS processes, for the stores whose instances live in several processes (file,
// Redis): real workers (test/helpers/workers.ts) share one storage against the mock API with refresh-token
// rotation and reuse detection on (the mock's defaults). Waits are bounded only to detect hangs.
import { createHash } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import type { StoreSnapshot } from '../../../src/index.js'
import { mockServer } from '../../helpers/mock-server.js'
import { until } from '../../helpers/redis.js'
import { stormAfterExpiry } from '../../helpers/worker-storm.js'
import { startWorkers, type WorkerStorage } from '../../helpers/workers.js'

/** The refresh lock as the storage shows it. */
export interface LockView {
  /** What the storage holds for it (the lock file's record, the Redis value): who holds it. */
  holder: string
  /** The holder's pid, when the storage records it. */
  pid?: number | undefined
  /** How long its lease still runs, in ms. */
  remainingMs: number
}

/** One storage for one test: where the workers find it, and how the test looks at it. */
export interface ProcessStorage {
  /** Where the workers find the storage. */
  readonly where: WorkerStorage
  /** The refresh lock, or undefined when nobody holds it. */
  lock(): Promise<LockView | undefined>
  /** The stored snapshot, read by a store of the test's own. */
  read(): StoreSnapshot | Promise<StoreSnapshot>
  /** Lose what is stored (the file deleted, the key lost). */
  lose(): Promise<void>
}

/** A store whose instances live in several processes. */
export interface ProcessStoreSubject {
  readonly name: string
  storage(): ProcessStorage | Promise<ProcessStorage>
  /**
   * When a lock holder that died (SIGKILL) is taken over: `'at once'` when the storage can tell it is gone (the
   * file store reads its pid), `'after its lease'` otherwise (Redis: its watchdog stops renewing the lease).
   */
  readonly deadHolder: 'at once' | 'after its lease'
}

const fingerprint = (token: string | undefined) =>
  token && createHash('sha256').update(token).digest('hex').slice(0, 16)

const PROCESS_TEST_MS = 120_000

/** Register the cross-process scenarios of the store contract for `subject`. */
export function describeStoreAcrossProcesses(subject: ProcessStoreSubject): void {
  describe(`the SessionStore contract across processes: ${subject.name}`, () => {
    test(
      '8 processes storming right after an expiry make exactly one refresh, no refresh token reused; again at the next expiry',
      async () => {
        // A slow refresh keeps the others waiting on the lock while it runs.
        const server = await mockServer({ refreshLatencyMs: 1_000 })
        const storage = await subject.storage()
        const workers = await startWorkers(8, { baseURL: server.url, ...storage.where })
        const [first] = workers
        const loggedIn = await first?.call('login')
        const loginVersion = (await storage.read()).version
        expect(new Set(await Promise.all(workers.map((worker) => worker.call('session'))))).toEqual(
          new Set([loggedIn]),
        )

        const cold = await stormAfterExpiry(server, workers, { label: 'p', count: 10 })
        expect(server.counters.maxConcurrentRefreshes).toBe(1)
        const stats = await Promise.all(workers.map((worker) => worker.call('stats')))
        // More than one process met the expiry (a 401, then a replay) but did not refresh itself.
        expect(stats.filter((s) => s.replays > 0 && s.refreshes === 0).length).toBeGreaterThan(0)
        // The refresher announced it locally; every other process adopted it from the store, without asking the
        // server.
        await until(
          () =>
            workers.filter((worker) =>
              worker.events.some((e) => e.event === 'refresh' && e.source === 'store'),
            ).length === 7,
          'every other process to adopt the refresh from the store',
        )
        const local = workers.flatMap((worker) =>
          worker.events.filter((e) => e.event === 'refresh' && e.source === 'local'),
        )
        expect(local).toHaveLength(1)
        const stored = await storage.read()
        expect(stored).toMatchObject({ reason: 'refresh' })
        expect(stored.version).toBeGreaterThan(loginVersion)
        expect(fingerprint(stored.record?.session.access_token)).toBe(cold.session)

        // Once more, now that every process has loaded what a refresh needs: the next expiry, one more refresh.
        const warm = await stormAfterExpiry(server, workers, { label: 'q', count: 10 })
        expect(server.counters).toMatchObject({ refreshes: 2, reuseDetected: 0, logins: 1 })
        expect(server.counters.maxConcurrentRefreshes).toBe(1)
        console.info(
          `${subject.name}, 8 processes after expiry: 2 storms, ${server.counters.refreshes} refreshes, ${server.counters.reuseDetected} reuse; ${Math.round(cold.elapsedMs)} ms for the first 80 requests, ${Math.round(warm.elapsedMs)} ms for the next 80`,
        )
        await Promise.all(workers.map((worker) => worker.call('exit')))
      },
      PROCESS_TEST_MS,
    )

    test(
      `a lock holder SIGKILLed mid-refresh is taken over ${subject.deadHolder === 'at once' ? 'at once (its pid is gone)' : 'once its lease ends'}; 1 refresh, 0 reuse`,
      async () => {
        const server = await mockServer()
        const storage = await subject.storage()
        // Taken over at once: a lease (2 × 30 s + 1 s) that outlasts this test's hang detectors, so only the dead
        // pid can explain the takeover. After its lease: 2 × 3 s + 1 s, the holder killed long before it ends.
        const refreshTimeoutMs = subject.deadHolder === 'at once' ? 30_000 : 3_000
        const [holder, survivor] = await startWorkers(2, {
          baseURL: server.url,
          ...storage.where,
          refreshTimeoutMs,
        })
        if (!holder || !survivor) throw new Error('workers did not start')
        await holder.call('login')
        await survivor.call('session')

        // The holder's refresh reaches the server and is never answered (nor acted on): it is mid-call, holding
        // the lock.
        server.inject({ on: 'refresh', hang: true })
        holder.call('refresh').catch(() => {}) // rejected when the process dies
        await until(() => server.counters.faultsServed === 1, 'the holder’s refresh to reach the server')
        const held = await storage.lock()
        expect(held).toBeDefined()
        if (held?.pid !== undefined) expect(held.pid).toBe(holder.child.pid)

        holder.child.kill('SIGKILL')
        expect(await holder.exited).toBe('SIGKILL')
        const killedAt = Date.now()
        // It died holding the lock: nobody released it, only the store's takeover can.
        const left = await storage.lock()
        expect(left?.holder).toBe(held?.holder)
        expect(left?.remainingMs).toBeGreaterThan(0)

        server.mock.expireAccessTokens()
        expect(await survivor.call('fetch', { path: '/after-takeover' })).toBe(200)
        if (subject.deadHolder === 'after its lease') {
          expect(Date.now()).toBeGreaterThanOrEqual(killedAt + (left?.remainingMs ?? 0) - 50)
        }
        expect(server.counters.refreshes).toBe(1)
        expect(server.counters.reuseDetected).toBe(0)
        expect(await survivor.call('stats')).toMatchObject({ refreshes: 1, replays: 1 })
        expect(server.log.at(-1)).toMatchObject({ path: '/after-takeover', status: 200 })
        expect(await storage.lock()).toBeUndefined() // the survivor released its own lock
        await survivor.call('exit')
      },
      PROCESS_TEST_MS,
    )

    test(
      'a lock holder that stopped responding (SIGSTOP) mid-refresh is taken over once its lease has ended',
      async () => {
        const server = await mockServer()
        const storage = await subject.storage()
        // refreshTimeoutMs 1.5 s: the lease is 2 × 1.5 s + 1 s.
        const [holder, survivor] = await startWorkers(2, {
          baseURL: server.url,
          ...storage.where,
          refreshTimeoutMs: 1_500,
        })
        if (!holder || !survivor) throw new Error('workers did not start')
        await holder.call('login')
        await survivor.call('session')

        server.inject({ on: 'refresh', hang: true })
        holder.call('refresh').catch(() => {})
        await until(() => server.counters.faultsServed === 1, 'the holder’s refresh to reach the server')
        holder.child.kill('SIGSTOP') // alive, holding the lock, doing nothing (no lease renewed either)
        const stoppedAt = Date.now()
        const held = await storage.lock()
        expect(held).toBeDefined()

        server.mock.expireAccessTokens()
        expect(await survivor.call('fetch', { path: '/after-lease' })).toBe(200)
        // Not before the lease ended (a clock reading against the lease the store showed, not a duration).
        expect(Date.now()).toBeGreaterThanOrEqual(stoppedAt + (held?.remainingMs ?? 0) - 50)
        expect(server.counters.refreshes).toBe(1)
        expect(server.counters.reuseDetected).toBe(0)
        await survivor.call('exit')
      },
      PROCESS_TEST_MS,
    )

    test(
      'a holder killed after the server rotated the tokens takes them along: the next process logs in again',
      async () => {
        const server = await mockServer()
        const storage = await subject.storage()
        const [holder, survivor] = await startWorkers(2, {
          baseURL: server.url,
          ...storage.where,
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
        // The survivor's refresh presented the rotated-out token (the server revoked that session), then it
        // logged in with its credentials.
        expect(server.counters.reuseDetected).toBe(1)
        expect(server.counters.logins).toBe(2)
        expect(await survivor.call('stats')).toMatchObject({ refreshes: 1, logins: 1 })
        expect(survivor.events.some((e) => e.event === 'login' && e.source === 'local')).toBe(true)
        expect(survivor.events.some((e) => e.event === 'expired')).toBe(false)
        await survivor.call('exit')
      },
      PROCESS_TEST_MS,
    )

    test(
      'a logout in one process reaches the others, which send no token after it',
      async () => {
        const server = await mockServer()
        const storage = await subject.storage()
        const workers = await startWorkers(3, { baseURL: server.url, ...storage.where })
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
      },
      PROCESS_TEST_MS,
    )

    test(
      'after the stored data is lost, a running process hears the next login and logout',
      async () => {
        const server = await mockServer()
        const storage = await subject.storage()
        const [running] = await startWorkers(1, { baseURL: server.url, ...storage.where })
        if (!running) throw new Error('the worker did not start')
        const old = await running.call('login')
        expect(await running.call('fetch', { path: '/before' })).toBe(200)

        // The data is gone (a file deleted as some error messages advise; a key evicted, flushed, or lost in a
        // restart without persistence); the session the running process holds stays live on the server. Then two
        // processes that start afterwards (two command runs, say): one logs in, the other logs out.
        await storage.lose()
        const [loggingIn, loggingOut] = await startWorkers(2, { baseURL: server.url, ...storage.where })
        if (!loggingIn || !loggingOut) throw new Error('workers did not start')
        const fresh = await loggingIn.call('login')
        expect(fresh).not.toBe(old)
        await until(
          () => running.events.some((e) => e.event === 'login' && e.source === 'store'),
          'the running process to hear the login',
        )
        expect(await running.call('session')).toBe(fresh)

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
      },
      PROCESS_TEST_MS,
    )
  })
}
