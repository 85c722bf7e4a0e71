import { expect } from 'vitest'
import type { MockServer } from '../../src/testing/mock/index.js'
import type { Worker } from './workers.js'

/** Every worker sends `count` requests at once (under `/<label>/<worker>/`); each answer's status, flat. */
export async function storm(workers: Worker[], label: string, count: number): Promise<(number | string)[]> {
  const answers = await Promise.all(
    workers.map((worker, i) => worker.call('storm', { path: `/${label}/${i}`, count })),
  )
  return answers.flat()
}

/** What one storm after an expiry came to. */
export interface StormOutcome {
  /** The fingerprint of the access token every worker ends on. */
  session: string | undefined
  /** How long the storm took (for the report, never asserted). */
  elapsedMs: number
}

/**
 * The worker storm: the server expires every access token, then every worker sends `count` requests at once.
 * Asserts that every request succeeded with exactly one more refresh at the server (made by one of the workers)
 * and no refresh token reused or refused, and that every worker ends on one new session.
 */
export async function stormAfterExpiry(
  server: MockServer,
  workers: Worker[],
  { label, count }: { label: string; count: number },
): Promise<StormOutcome> {
  const before = { ...server.counters }
  const sessionsBefore = new Set(await Promise.all(workers.map((worker) => worker.call('session'))))
  const refreshedBefore = await refreshesOf(workers)
  server.mock.expireAccessTokens()
  const started = performance.now()
  const answers = await storm(workers, label, count)
  const elapsedMs = performance.now() - started

  expect(answers).toEqual(Array(workers.length * count).fill(200))
  expect(server.counters.refreshes - before.refreshes).toBe(1)
  expect(server.counters.reuseDetected - before.reuseDetected).toBe(0)
  expect(server.counters.refreshRejected - before.refreshRejected).toBe(0)
  expect((await refreshesOf(workers)) - refreshedBefore).toBe(1)
  const after = await Promise.all(workers.map((worker) => worker.call('session')))
  expect(new Set(after).size).toBe(1)
  expect(sessionsBefore.has(after[0])).toBe(false)
  return { session: after[0], elapsedMs }
}

async function refreshesOf(workers: Worker[]): Promise<number> {
  const stats = await Promise.all(workers.map((worker) => worker.call('stats')))
  return stats.reduce((sum, s) => sum + s.refreshes, 0)
}
