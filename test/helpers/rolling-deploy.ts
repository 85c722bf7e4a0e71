import { expect } from 'vitest'
import type { MockServer } from '../../src/testing/mock/index.js'
import { holdSessionCalls } from './held-session-calls.js'
import { until } from './redis.js'
import { startWorkers, type WorkerEnv } from './workers.js'

/** What the server counted after one rolling deploy, for the report. */
export interface DeployCounts {
  refreshes: number
  reuseDetected: number
  refreshRejected: number
  liveSessions: number
}

/**
 * A rolling deploy over one shared session: 3 processes, the access tokens expire at the server, one process
 * takes the refresh lock and its refresh reaches the server (held there, then answered after `refreshLatencyMs`),
 * the two others meet a 401 each and wait for that lock; then the holder gets SIGTERM and, in its handler,
 * awaits `plantly.close()` and `store.close()` before it exits; the server acts on the refresh only once that
 * handler has begun. Asserts that the refresh landed and was stored: the two
 * others use the new token with no refresh of their own, the server saw no reuse, and the session is live.
 */
export async function rollingDeploy(server: MockServer, env: WorkerEnv): Promise<DeployCounts> {
  const [holder, ...others] = await startWorkers(3, env)
  if (!holder || others.length !== 2) throw new Error('workers did not start')
  const loggedIn = await holder.call('login')
  await Promise.all(others.map((worker) => worker.call('session')))

  server.mock.expireAccessTokens()
  const held = holdSessionCalls(server)
  holder.call('refresh').catch(() => undefined) // answered, or cut by the exit: either way not awaited
  await until(() => held.arrived() === 1, 'the holder’s refresh to reach the server', 30_000)
  const storms = others.map((worker, i) => worker.call('storm', { path: `/deploy${i}`, count: 5 }))
  // Each of their requests met the expiry: they wait for the lock the holder holds.
  await until(() => server.counters.apiUnauthorized === 10, 'the others to meet the expiry', 30_000)
  expect(server.counters.refreshes).toBe(0) // the holder's refresh is still at the server

  holder.child.kill('SIGTERM')
  await until(() => holder.shutdown() !== undefined, 'the holder’s SIGTERM handler to begin', 30_000)
  held.release()
  expect(await holder.exited).toBeNull() // it exited on its own, after its handler...
  expect(holder.shutdown()).toBe('closed') // ...had closed the client and the store
  expect(held.arrived()).toBe(1) // the others never sent a refresh of their own

  expect((await Promise.all(storms)).flat()).toEqual(Array(10).fill(200))
  const counts: DeployCounts = {
    refreshes: server.counters.refreshes,
    reuseDetected: server.counters.reuseDetected,
    refreshRejected: server.counters.refreshRejected,
    liveSessions: server.mock.liveSessions(),
  }
  expect(counts).toEqual({ refreshes: 1, reuseDetected: 0, refreshRejected: 0, liveSessions: 1 })
  const stats = await Promise.all(others.map((worker) => worker.call('stats')))
  expect(stats.map((s) => s.refreshes)).toEqual([0, 0]) // they adopted the holder's refresh
  const sessions = await Promise.all(others.map((worker) => worker.call('session')))
  expect(new Set(sessions).size).toBe(1)
  expect(sessions[0]).not.toBe(loggedIn)
  await Promise.all(others.map((worker) => worker.call('exit')))
  return counts
}
