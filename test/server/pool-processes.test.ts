import { describe, expect, test } from 'vitest'
import { mockServer } from '../helpers/mock-server.js'
import { type HttpWorker, startHttpWorkers } from '../helpers/pool-workers.js'
import { plainClient, REDIS_URL, uniqueKey } from '../helpers/redis.js'
import { crossUserRequests, manyUsers, userRequests } from '../helpers/users-ledger.js'

// Three real OS processes, each a node:http server with a sessionPool whose sessions live in Redis (one key per
// user), in front of the mock with strict rotation. Each user's requests are spread over the three processes
// across an expiry: the Redis lock of each user's key lets one of them refresh, the others adopt its session.
describe('sessionPool + redisStore across processes', () => {
  test('3 processes, 50 users, each user’s requests spread over them across an expiry: 50 refreshes, 0 reuse, 0 failed, no token on another user’s request', async () => {
    const USERS = 50
    const PER_USER = 6 // two on each process
    const server = await mockServer({ users: manyUsers(USERS) })
    const prefix = uniqueKey('pool')
    const workers = await startHttpWorkers('./pool-worker.ts', 3, {
      SF_BASE_URL: server.url,
      SF_REDIS_URL: REDIS_URL,
      SF_KEY: prefix,
    })
    try {
      // Each user logs in on one process; the two others first meet the session in Redis after the expiry.
      const families = new Map<string, number>()
      await Promise.all(
        Array.from({ length: USERS }, async (_, i) => {
          const worker = workers[i % 3] as HttpWorker
          const { family } = (await (await worker.request(`/login/${i}`, 'POST')).json()) as {
            family: number
          }
          families.set(`u${i}`, family)
        }),
      )
      expect(new Set(families.values()).size).toBe(USERS)

      server.mock.expireAccessTokens()
      const answers = await Promise.all(
        Array.from({ length: USERS * PER_USER }, async (_, n) => {
          const user = `u${n % USERS}`
          const worker = workers[Math.floor(n / USERS) % 3] as HttpWorker
          return (await (await worker.request(`/call/${user}/${n}`)).json()) as {
            status?: number
            error?: string
          }
        }),
      )

      const failed = answers.filter((answer) => answer.status !== 200)
      const figures = {
        refreshes: server.counters.refreshes,
        reuse: server.counters.reuseDetected,
        rejected: server.counters.refreshRejected,
        failed: failed.length,
        crossUser: crossUserRequests(server, families).length,
      }
      console.info('pool across 3 processes, 50 users:', JSON.stringify(figures))
      expect(figures).toEqual({ refreshes: USERS, reuse: 0, rejected: 0, failed: 0, crossUser: 0 })
      expect(userRequests(server)).toBeGreaterThanOrEqual(USERS * PER_USER)
      const stats = await Promise.all(
        workers.map(
          async (worker) => (await (await worker.request('/stats')).json()) as { refreshes: number },
        ),
      )
      expect(stats.reduce((sum, s) => sum + s.refreshes, 0)).toBe(USERS) // each refresh made by one process
    } finally {
      const cleaner = await plainClient()
      const keys = Array.from({ length: USERS }, (_, i) => `${prefix}:u${i}`)
      await cleaner.del([...keys, ...keys.map((key) => `${key}:lock`)])
    }
  }, 120_000)
})
