import { describe, expect, test } from 'vitest'
import { memoryStore, OptionError, type SessionStore } from '../../src/index.js'
import { type CookieSessionsOptions, cookieSessions } from '../../src/server/index.js'
import type { MockServer } from '../../src/testing/mock/index.js'
import { type AppAnswer, CookieJar, callApp, startCookieApp } from '../helpers/cookie-app.js'
import { mockServer } from '../helpers/mock-server.js'
import { familyOf, manyUsers } from '../helpers/users-ledger.js'

// cookieSessions behind a node:http app, driven over real HTTP like a browser (a cookie jar), in front of the mock
// with strict rotation: a rotated-out refresh token presented again is reuse, which revokes the session.

const SECRET = 'a-secret-of-at-least-32-bytes-for-tests!'
const OTHER_SECRET = 'another-secret-of-at-least-32-bytes-long'
const COOKIE = { name: 'plantly_session', path: '/', sameSite: 'lax', secure: false } as const

const apps: Array<{ close(): Promise<void> }> = []

async function app(server: MockServer, options: Partial<CookieSessionsOptions> = {}) {
  const sessions = cookieSessions({ baseURL: server.url, secrets: [SECRET], cookie: COOKIE, ...options })
  const started = await startCookieApp(sessions)
  apps.push({
    close: async () => {
      started.server.closeAllConnections()
      await new Promise((resolve) => started.server.close(resolve))
      await sessions.close()
    },
  })
  return { url: started.url, sessions }
}

async function closeApps() {
  await Promise.all(apps.splice(0).map((a) => a.close()))
}

const figures = (server: MockServer) => ({
  refreshes: server.counters.refreshes,
  reuse: server.counters.reuseDetected,
  rejected: server.counters.refreshRejected,
})

async function loggedIn(url: string) {
  const answer = await callApp(url, '/login/0', '', 'POST')
  expect(answer.body.family).toEqual(expect.any(Number))
  return { jar: new CookieJar().apply(answer.setCookies), family: answer.body.family as number, answer }
}

describe('cookieSessions in one process', () => {
  test('login sets one sealed HttpOnly cookie; a request with it carries the session and changes nothing', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const { url } = await app(server)
    const { jar, family, answer } = await loggedIn(url)
    expect(answer.setCookies).toHaveLength(1)
    expect(answer.setCookies[0]).toMatch(
      /^plantly_session=[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax$/,
    )

    const call = await callApp(url, '/call/1', jar.header)
    expect(call.body).toEqual({ status: 200 })
    expect(call.setCookies).toEqual([])
    const token = server.log.at(-1)?.token as string
    expect(familyOf(token)).toBe(family)
    // Sealed: neither token, nor any part of one, is readable in the cookie.
    for (const part of token.split('.')) expect(answer.setCookies[0]).not.toContain(part)
    await closeApps()
  })

  test('the race: 20 requests with the same cookie across an expiry → 1 refresh, 0 reuse, each gets the new cookie', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const { url } = await app(server)
    const { jar, family } = await loggedIn(url)
    server.mock.expireAccessTokens()

    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) => callApp(url, `/call/${n}`, jar.header)),
    )
    expect(answers.map((a) => a.body.status)).toEqual(Array(20).fill(200))
    expect(figures(server)).toEqual({ refreshes: 1, reuse: 0, rejected: 0 })
    const renewed = new Set(answers.map((a) => a.setCookies.join('\n')))
    expect(renewed.size).toBe(1) // the same sealed cookie for all of them
    expect([...renewed][0]).toMatch(/^plantly_session=/)
    expect([...renewed][0]).not.toBe(jar.cookies.get('plantly_session'))
    expect(server.log.every((entry) => familyOf(entry.token) === family)).toBe(true)

    // With the new cookie: nothing to change.
    const next = await callApp(url, '/call/next', jar.copy().apply(answers[0]?.setCookies ?? []).header)
    expect(next).toMatchObject({ body: { status: 200 }, setCookies: [] })
    await closeApps()
  })

  test('a request still carrying the cookie from before the refresh gets the newest session and the new cookie: no refresh, no reuse', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const { url } = await app(server)
    const { jar } = await loggedIn(url)
    server.mock.expireAccessTokens()
    const first = await callApp(url, '/call/first', jar.header)
    expect(first.body.status).toBe(200)
    expect(first.setCookies).toHaveLength(1)
    const newToken = server.log.at(-1)?.token

    // The browser had not stored it yet (or a Server Component could not set it): the old cookie again.
    const late = await callApp(url, '/call/late', jar.header)
    expect(late.body.status).toBe(200)
    expect(server.log.at(-1)?.token).toBe(newToken)
    expect(late.setCookies).toHaveLength(1)
    const [lateValue, firstValue] = [late.setCookies[0], first.setCookies[0]]
    expect(lateValue).toBe(firstValue)
    expect(figures(server)).toEqual({ refreshes: 1, reuse: 0, rejected: 0 })
    await closeApps()
  })

  test('after the grace the newest cookie still carries the session (the process kept nothing)', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const { url } = await app(server, { rotationGraceMs: 20 })
    const { jar } = await loggedIn(url)
    server.mock.expireAccessTokens()
    jar.apply((await callApp(url, '/call/1', jar.header)).setCookies)
    await new Promise((resolve) => setTimeout(resolve, 60))
    const again = await callApp(url, '/call/2', jar.header)
    expect(again).toMatchObject({ body: { status: 200 }, setCookies: [] })
    expect(figures(server)).toEqual({ refreshes: 1, reuse: 0, rejected: 0 })
    await closeApps()
  })

  test('logout: a clearing cookie; a request with an older cookie then has no session', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const { url } = await app(server)
    const { jar } = await loggedIn(url)
    const older = jar.copy()
    server.mock.expireAccessTokens()
    jar.apply((await callApp(url, '/call/1', jar.header)).setCookies)

    const out = await callApp(url, '/logout', jar.header, 'POST')
    expect(out.body).toEqual({ ok: true })
    expect(out.setCookies).toEqual([
      'plantly_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    ])
    expect(server.counters.logouts).toBe(1)

    for (const cookie of [older.header, jar.header]) {
      const stale = await callApp(url, '/call/stale', cookie)
      expect(stale.body.status).toBe(401)
      expect(server.log.at(-1)?.token).toBeUndefined() // sent without a token
      expect(stale.setCookies).toEqual([expect.stringMatching(/^plantly_session=; .*Max-Age=0/)])
    }
    expect(figures(server)).toEqual({ refreshes: 1, reuse: 0, rejected: 0 })
    await closeApps()
  })

  test('a bad cookie never throws: tampered, unknown secret, malformed, another API → no session and a clearing cookie', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const otherAPI = await mockServer({ users: manyUsers(1) })
    const { url } = await app(server)
    const { jar } = await loggedIn(url)
    const good = jar.cookies.get('plantly_session') as string

    const foreignSecret = await app(server, { secrets: [OTHER_SECRET] })
    const foreignAPI = await app(otherAPI) // same secret and cookie name, another API
    const stranger = (await loggedIn(foreignSecret.url)).jar.cookies.get('plantly_session') as string
    const otherApi = (await loggedIn(foreignAPI.url)).jar.cookies.get('plantly_session') as string
    const flipped = `${good.slice(0, -5)}${good.at(-5) === 'A' ? 'B' : 'A'}${good.slice(-4)}`
    const bad = {
      tampered: flipped,
      'unknown secret': stranger,
      malformed: 'not-a-jwe',
      empty: '',
      'another API': otherApi,
      'a chunk alone': good.slice(0, 100),
    }
    const before = server.counters.apiRequests
    for (const [what, value] of Object.entries(bad)) {
      const cookie = what === 'a chunk alone' ? `plantly_session.0=${value}` : `plantly_session=${value}`
      const answer = await callApp(url, '/call/bad', cookie)
      expect(answer.status, what).toBe(200)
      expect(answer.body.status, what).toBe(401)
      expect(server.log.at(-1)?.token, what).toBeUndefined()
      expect(answer.setCookies.length, what).toBeGreaterThanOrEqual(1)
      expect(
        answer.setCookies.every((c) => /Max-Age=0/.test(c)),
        what,
      ).toBe(true)
    }
    expect(server.counters.apiRequests - before).toBe(Object.keys(bad).length)

    // The Web Request form of the same: no throw, no session, a clearing cookie.
    const sessions = cookieSessions({ baseURL: server.url, secrets: [SECRET], cookie: COOKIE })
    const session = sessions.open(
      new Request('http://app.test/', { headers: { cookie: `plantly_session=${flipped}` } }),
    )
    expect(await session.getSession()).toBeUndefined()
    await expect(session.accessToken()).rejects.toMatchObject({ name: 'SessionExpiredError' })
    expect(session.cookies()).toEqual([expect.stringMatching(/^plantly_session=; /)])
    await sessions.close()
    await closeApps()
  })

  test('secret rotation: a cookie sealed with the old secret opens, and the renewed cookie is sealed with the new one', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const before = await app(server, { secrets: [SECRET] })
    const { jar } = await loggedIn(before.url)
    const rotated = await app(server, { secrets: [OTHER_SECRET, SECRET] })
    const newOnly = await app(server, { secrets: [OTHER_SECRET] })

    expect((await callApp(rotated.url, '/call/1', jar.header)).body.status).toBe(200)
    server.mock.expireAccessTokens()
    const renewed = await callApp(rotated.url, '/call/2', jar.header)
    expect(renewed.body.status).toBe(200)
    jar.apply(renewed.setCookies)
    // Only the new secret is needed to open it now (the process keeps no copy: another app instance).
    expect((await callApp(newOnly.url, '/session', jar.header)).body.family).toEqual(expect.any(Number))
    expect(figures(server)).toEqual({ refreshes: 1, reuse: 0, rejected: 0 })
    await closeApps()
  })

  test('a session over 4 KB goes out as numbered cookies, comes back joined, and all of them are cleared on logout', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const { url } = await app(server)
    const padding = 'x'.repeat(5_000)
    server.inject({
      on: 'login',
      body: (session: Record<string, unknown>) => ({
        ...session,
        access_token: `${session.access_token}${padding}`,
      }),
    })
    const { jar, answer } = await loggedIn(url)
    expect(answer.setCookies.map((c) => c.split('=')[0])).toEqual(['plantly_session.0', 'plantly_session.1'])
    for (const cookie of answer.setCookies) expect(cookie.length).toBeLessThanOrEqual(4096)

    const call = await callApp(url, '/call/big', jar.header)
    expect(call).toMatchObject({ body: { status: 200 }, setCookies: [] })
    expect(server.log.at(-1)?.token?.endsWith(padding)).toBe(true)

    // A refresh gives normal-sized tokens: one cookie, and the chunks are cleared.
    server.mock.expireAccessTokens()
    const renewed = await callApp(url, '/call/renewed', jar.header)
    expect(renewed.body.status).toBe(200)
    expect(renewed.setCookies.map((c) => c.split('=')[0])).toEqual([
      'plantly_session',
      'plantly_session.0',
      'plantly_session.1',
    ])
    expect(renewed.setCookies.slice(1).every((c) => /Max-Age=0/.test(c))).toBe(true)
    jar.apply(renewed.setCookies)
    expect([...jar.cookies.keys()]).toEqual(['plantly_session'])
    await closeApps()
  })

  test('with `store` in one process: an older cookie gets the newest session for as long as the session lives', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const stores = new Map<string, SessionStore>()
    const { url } = await app(server, {
      rotationGraceMs: 20,
      store: (id) => {
        const store = stores.get(id) ?? memoryStore()
        stores.set(id, store)
        return store
      },
    })
    const { jar } = await loggedIn(url)
    const older = jar.copy()
    expect(jar.header.length).toBeLessThan(400) // the cookie holds the id, not the tokens
    // Before any call the session is not read yet: cookies() changes nothing (it never clears a good cookie).
    const sessions = cookieSessions({
      baseURL: server.url,
      secrets: [SECRET],
      cookie: COOKIE,
      store: (id) => stores.get(id) ?? memoryStore(),
    })
    const listening = sessions.open({ headers: { cookie: jar.header } })
    listening.on('refresh', () => undefined) // opens the cookie, reads nothing
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(listening.cookies()).toEqual([])
    await sessions.close()
    server.mock.expireAccessTokens()
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, n) => callApp(url, `/call/${n}`, jar.header)),
    )
    expect(answers.map((a) => a.body.status)).toEqual(Array(10).fill(200))
    expect(answers.every((a) => a.setCookies.length === 1)).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 60)) // past the grace: the client was let go
    const late = await callApp(url, '/call/late', older.header)
    expect(late.body.status).toBe(200)
    expect(late.setCookies).toHaveLength(1)
    expect(figures(server)).toEqual({ refreshes: 1, reuse: 0, rejected: 0 })
    await closeApps()
  })

  test('options: each bad one is refused naming it, and no secret is echoed', () => {
    const baseURL = 'https://api.plantly.test'
    const refused = (options: Record<string, unknown>) => {
      try {
        cookieSessions({ baseURL, secrets: [SECRET], cookie: COOKIE, ...options } as CookieSessionsOptions)
      } catch (error) {
        expect(error).toBeInstanceOf(OptionError)
        expect((error as Error).message).not.toContain('short-secret')
        return (error as OptionError).option
      }
      throw new Error('accepted')
    }
    expect(refused({ secrets: ['short-secret'] })).toBe('secrets')
    expect(refused({ secrets: [] })).toBe('secrets')
    expect(refused({ secrets: 'short-secret' })).toBe('secrets')
    expect(refused({ cookie: { ...COOKIE, name: 'bad name' } })).toBe('cookie.name')
    expect(refused({ cookie: { ...COOKIE, sameSite: 'none', secure: false } })).toBe('cookie.sameSite')
    expect(refused({ cookie: { ...COOKIE, path: 'relative' } })).toBe('cookie.path')
    expect(refused({ cookie: { ...COOKIE, maxAge: -1 } })).toBe('cookie.maxAge')
    expect(refused({ cookie: { ...COOKIE, httpOnly: false } })).toBe('cookie.httpOnly')
    expect(refused({ cookie: undefined })).toBe('cookie')
    expect(refused({ rotationGraceMs: -1 })).toBe('rotationGraceMs')
    expect(refused({ credentials: () => ({ email_address: 'a', password: 'b' }) })).toBe('credentials')
    expect(refused({ max: 0 })).toBe('max')
  })

  test('a request without a cookie: no session, no cookie, requests without a token', async () => {
    const server = await mockServer({ users: manyUsers(1) })
    const { url } = await app(server)
    const answer = await callApp(url, '/call/anon')
    expect(answer).toEqual<AppAnswer>({ status: 200, body: { status: 401 }, setCookies: [] })
    expect(server.log.at(-1)?.token).toBeUndefined()
    await closeApps()
  })
})
