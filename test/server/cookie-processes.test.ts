import { describe, expect, test } from 'vitest'
import { CookieJar, callApp } from '../helpers/cookie-app.js'
import { mockServer } from '../helpers/mock-server.js'
import { type HttpWorker, startHttpWorkers } from '../helpers/pool-workers.js'
import { plainClient, REDIS_URL, uniqueKey } from '../helpers/redis.js'
import { familyOf, manyUsers } from '../helpers/users-ledger.js'

// Two real OS processes serving the same app with cookieSessions whose sessions live in Redis (the cookie names
// the session), in front of the mock with strict rotation: one browser's requests reach both across an expiry.
describe('cookieSessions + redisStore across two processes', () => {
  test('one cookie on both processes across an expiry: 1 refresh, 0 reuse, every call 200; an older cookie later gets the newest session; after logout none', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const prefix = uniqueKey('cookies')
    const [a, b] = (await startHttpWorkers('./cookie-worker.ts', 2, {
      SF_BASE_URL: server.url,
      SF_REDIS_URL: REDIS_URL,
      SF_KEY: prefix,
      SF_SECRET: 'a-secret-of-at-least-32-bytes-for-tests!',
    })) as [HttpWorker, HttpWorker]
    try {
      const login = await callApp(a.url, '/login/0', '', 'POST')
      const family = login.body.family as number
      const jar = new CookieJar().apply(login.setCookies)
      const older = jar.copy()
      expect(family).toEqual(expect.any(Number))

      server.mock.expireAccessTokens()
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, n) => callApp(n % 2 ? b.url : a.url, `/call/${n}`, jar.header)),
      )
      const race = {
        refreshes: server.counters.refreshes,
        reuse: server.counters.reuseDetected,
        rejected: server.counters.refreshRejected,
        failed: answers.filter((answer) => answer.body.status !== 200).length,
      }
      console.info('cookie sessions across 2 processes, 20 requests:', JSON.stringify(race))
      expect(race).toEqual({ refreshes: 1, reuse: 0, rejected: 0, failed: 0 })
      expect(answers.every((answer) => answer.setCookies.length === 1)).toBe(true) // each gets the new cookie
      expect(server.log.every((entry) => familyOf(entry.token) === family)).toBe(true)
      jar.apply(answers[0]?.setCookies ?? [])

      // The browser kept the old cookie on the other process: the newest session, no refresh, the new cookie.
      const late = await callApp(b.url, '/call/late', older.header)
      expect(late.body.status).toBe(200)
      expect(late.setCookies).toHaveLength(1)
      expect(server.counters.refreshes).toBe(1)
      const withNew = await callApp(b.url, '/call/new', jar.header)
      expect(withNew).toMatchObject({ body: { status: 200 }, setCookies: [] })

      // Logout on one process: an older cookie has no session on the other.
      const out = await callApp(a.url, '/logout', jar.header, 'POST')
      expect(out.setCookies).toEqual([expect.stringMatching(/^plantly_session=; .*Max-Age=0/)])
      for (const cookie of [older.header, jar.header]) {
        const stale = await callApp(b.url, '/call/stale', cookie)
        expect(stale.body.status).toBe(401)
        expect(server.log.at(-1)?.token).toBeUndefined()
        expect(stale.setCookies).toEqual([expect.stringMatching(/Max-Age=0/)])
      }
      expect(server.counters.reuseDetected).toBe(0)
    } finally {
      const cleaner = await plainClient()
      const keys = await cleaner.keys(`${prefix}:*`)
      if (keys.length > 0) await cleaner.del(keys)
    }
  }, 120_000)
})
