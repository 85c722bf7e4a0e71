import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { type MockServer, startMockServer } from '../../src/testing/mock/index.js'
import { CHROMIUM_ARGS, findChromium } from '../helpers/chromium-binary.js'
import { type NextProcess, raceFigures, recordIssuedTokens, startNext } from '../helpers/next-app.js'
import { plainClient, REDIS_URL } from '../helpers/redis.js'
import { familyOf, manyUsers, userCredentials } from '../helpers/users-ledger.js'

// A real Next.js app (App Router; test/next-app, built once per run by test/setup/build-next.ts) run with
// `next start`, driven by Chromium, in front of the mock Plantly API with strict refresh-token rotation: a
// rotated-out refresh token presented again is reuse, which revokes the session. The app: a proxy that refreshes
// ahead during a navigation, a Server Component page with three parallel calls, a Route Handler, and Server
// Actions that log in and out. `npm run test:next` (NEXT=1) runs it.

const SECRET = 'a-secret-of-at-least-32-bytes-for-tests!'
const COOKIE = 'plantly_session'
// Long enough for a navigation to render well inside the refresh window (half of it), short enough to wait out.
const ACCESS_TTL_S = 6

let browser: Browser
let server: MockServer
let issued: Set<string>
let solo: NextProcess // one process, no store
let pair: [NextProcess, NextProcess] // two processes sharing Redis
const prefix = `session-fetch:test:next:${crypto.randomUUID()}`
const contexts: BrowserContext[] = []
/** Every answer the browser received from the app but its static files: HTML, React payloads, JSON. */
const received: Promise<string>[] = []

beforeAll(async () => {
  await plainClient() // fails now, with how to start it, when Redis is not answering
  const chromiumBinary = await findChromium()
  browser = await chromium.launch({
    executablePath: chromiumBinary.executablePath,
    env: chromiumBinary.env,
    args: CHROMIUM_ARGS,
  })
  server = await startMockServer({ users: manyUsers(6), accessTtlSeconds: ACCESS_TTL_S })
  issued = recordIssuedTokens(server)
  const env = { PLANTLY_API_URL: server.url, SESSION_SECRET: SECRET }
  const withRedis = { ...env, REDIS_URL, PLANTLY_REDIS_PREFIX: prefix }
  ;[solo, ...pair] = (await Promise.all([startNext(env), startNext(withRedis), startNext(withRedis)])) as [
    NextProcess,
    NextProcess,
    NextProcess,
  ]
  const built = inject('nextBuildMs')
  console.info(`next build ${built.next} ms (the package ${built.package} ms)`)
}, 120_000)

afterAll(async () => {
  await Promise.allSettled(contexts.map((context) => context.close()))
  await browser?.close()
  await Promise.allSettled([solo, ...(pair ?? [])].map((next) => next?.stop()))
  await server?.close()
  const cleaner = await plainClient()
  const keys = await cleaner.keys(`${prefix}:*`)
  if (keys.length > 0) await cleaner.del(keys)
}, 60_000)

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext()
  contexts.push(context)
  context.on('response', (response) => {
    if (response.url().includes('/_next/static/')) return
    received.push(response.text().catch(() => '')) // a redirect has no body
  })
  return { context, page: await context.newPage() }
}

/** The session cookie the browser holds for 127.0.0.1 (cookies are per host: every port shares it). */
async function browserCookie(context: BrowserContext) {
  const cookies = await context.cookies('http://127.0.0.1')
  return cookies.find((cookie) => cookie.name === COOKIE)
}

/** Log user `i` in through the page's form (a Server Action); resolves once the page shows the three calls. */
async function logIn(page: Page, url: string, i: number): Promise<number> {
  await page.goto(url)
  const { email_address, password } = userCredentials(i)
  await page.getByLabel('email').fill(email_address)
  await page.getByLabel('password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.locator('li[data-status]').nth(2).waitFor()
  return Date.now()
}

/** A full navigation to `url`: the HTML it received, the Set-Cookie values it carried, and the calls' statuses. */
async function navigate(page: Page, url: string) {
  const response = await page.goto(url)
  if (!response) throw new Error(`no response for ${url}`)
  const html = await response.text()
  const setCookies = (await response.headersArray())
    .filter((header) => header.name.toLowerCase() === 'set-cookie')
    .map((header) => header.value)
  const statuses = await page
    .locator('li[data-status]')
    .evaluateAll((items) => items.map((item) => item.dataset.status))
  return { status: response.status(), html, setCookies, statuses }
}

/** No token the mock issued appears in `text`. */
function expectNoToken(text: string) {
  expect(issued.size).toBeGreaterThan(0)
  const found = [...issued].filter((token) => text.includes(token))
  expect(found.length, 'tokens in what the browser received').toBe(0)
}

/** Nothing the browser received from the app (HTML, React payloads of the actions, JSON) so far, nor anything
 * the app's processes printed, holds a token or the secret. */
async function expectNothingLeaked() {
  const answers = await Promise.all(received.splice(0))
  expect(answers.length).toBeGreaterThanOrEqual(3) // at least a page, a Server Action, a navigation
  for (const text of [...answers, ...[solo, ...pair].map((next) => next.output())]) {
    expectNoToken(text)
    expect(text.includes(SECRET), 'the secret in what the browser received or the app printed').toBe(false)
  }
}

const waitUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())))

describe('Next.js app, one `next start` process, cookieSessions without a store', () => {
  test('a navigation across an expiry: the proxy refreshes once, the page and a Route Handler get 200s, the browser ends with the new cookie', async () => {
    const { context, page } = await newPage()
    const loggedInAt = await logIn(page, solo.url, 1)
    const before = await browserCookie(context)
    expect(before).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: true })
    const family = familyOf(server.log.at(-1)?.token)
    expect(family).toEqual(expect.any(Number))

    await waitUntil(loggedInAt + ACCESS_TTL_S * 1000 + 500) // the access token has expired
    const figures = raceFigures(server)
    const navigation = await navigate(page, `${solo.url}/`)
    const handler = await page.evaluate(async () => {
      const response = await fetch('/api/buyers')
      return { status: response.status, body: await response.text() }
    })
    const after = await browserCookie(context)
    const race = figures()
    console.info('next, navigation across an expiry:', JSON.stringify({ ...race, tokens: race.tokens.size }))

    expect(navigation.statuses).toEqual(['200', '200', '200'])
    expect(handler.status).toBe(200)
    expect({ refreshes: race.refreshes, reuse: race.reuse, rejected: race.rejected }).toEqual({
      refreshes: 1,
      reuse: 0,
      rejected: 0,
    })
    expect({ calls: race.calls, failed: race.failed }).toEqual({ calls: 4, failed: 0 })
    // Every call carried the one new access token of the same session.
    expect(race.tokens.size).toBe(1)
    expect([...race.tokens].map(familyOf)).toEqual([family])
    // The navigation's answer set the new cookie, and the browser holds it.
    expect(navigation.setCookies).toHaveLength(1)
    expect(navigation.setCookies[0]).toMatch(
      /^plantly_session=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    )
    expect(after?.value).not.toBe(before?.value)
    expect(`${COOKIE}=${after?.value}`).toBe(navigation.setCookies[0]?.split(';')[0])
    expectNoToken(navigation.html)
    expectNoToken(handler.body)

    // Log out (the other Server Action): the session ends at the API, and the browser's cookie is gone.
    const logouts = server.counters.logouts
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.getByRole('button', { name: 'Log in' }).waitFor()
    expect(server.counters.logouts).toBe(logouts + 1)
    expect(await browserCookie(context)).toBeUndefined()
    await expectNothingLeaked()
  }, 60_000)

  test('log out after an idle past the expiry: the proxy refreshes once, the action logs out, the browser keeps no cookie, the older cookies open nothing', async () => {
    const { context, page } = await newPage()
    const loggedInAt = await logIn(page, solo.url, 5)
    const before = await browserCookie(context)

    await waitUntil(loggedInAt + ACCESS_TTL_S * 1000 + 500)
    const figures = raceFigures(server)
    const logouts = server.counters.logouts
    const action = page.waitForResponse((response) => response.request().method() === 'POST')
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.getByRole('button', { name: 'Log in' }).waitFor()
    const setCookies = (await (await action).headersArray())
      .filter((header) => header.name.toLowerCase() === 'set-cookie')
      .map((header) => header.value)
    const race = figures()
    console.info('next, log out across an expiry:', JSON.stringify({ ...race, tokens: race.tokens.size }))
    expect({ refreshes: race.refreshes, reuse: race.reuse, rejected: race.rejected }).toEqual({
      refreshes: 1,
      reuse: 0,
      rejected: 0,
    })
    expect(server.counters.logouts).toBe(logouts + 1)
    // The action's answer carries the proxy's renewed cookie, then the action's clearing one: the browser keeps none.
    expect(setCookies).toEqual([
      expect.stringMatching(/^plantly_session=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/),
      expect.stringMatching(/^plantly_session=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT/),
    ])
    expect(await browserCookie(context)).toBeUndefined()

    // The cookie from before the refresh, put back: no session (the process saw it end), nothing sent with a token.
    await context.addCookies([{ ...(before as NonNullable<typeof before>) }])
    const after = raceFigures(server)
    const again = await navigate(page, `${solo.url}/`)
    expect(again.statuses).toEqual([]) // the login form
    expect(after()).toMatchObject({ refreshes: 0, reuse: 0, calls: 0 })
    expect(again.setCookies).toEqual([expect.stringMatching(/^plantly_session=; .*Max-Age=0/)])
    expect(await browserCookie(context)).toBeUndefined()
    await expectNothingLeaked()
  }, 60_000)

  test('a session too big for one cookie: its chunks go through the proxy across an expiry, 1 refresh, 0 reuse, the browser ends with the new chunks', async () => {
    // Tokens of about 2.5 KB each (the mock serves the issued JWT with its signature padded, and accepts it as
    // the issued one): the sealed session needs two cookies, plantly_session.0 and .1.
    const pad = (session: Record<string, unknown>) => ({
      ...session,
      access_token: `${session.access_token}${'a'.repeat(2_500)}`,
      refresh_token: `${session.refresh_token}${'r'.repeat(2_500)}`,
    })
    const faults = server.counters.faultsServed
    server.inject({ on: 'login', body: pad }, { on: 'refresh', body: pad })
    const { context, page } = await newPage()
    const loggedInAt = await logIn(page, solo.url, 0)
    const chunks = async () =>
      Object.fromEntries(
        (await context.cookies('http://127.0.0.1'))
          .filter((cookie) => cookie.name.startsWith(COOKIE))
          .map((cookie) => [cookie.name, cookie.value]),
      )
    const before = await chunks()
    expect(Object.keys(before).sort()).toEqual([`${COOKIE}.0`, `${COOKIE}.1`])
    const family = familyOf(server.log.at(-1)?.token)
    expect(server.log.at(-1)?.token?.length).toBeGreaterThan(2_500)

    await waitUntil(loggedInAt + ACCESS_TTL_S * 1000 + 500)
    const figures = raceFigures(server)
    const navigation = await navigate(page, `${solo.url}/`)
    const after = await chunks()
    const race = figures()
    console.info(
      'next, a session in two cookies across an expiry:',
      JSON.stringify({ ...race, tokens: race.tokens.size }),
    )
    expect(navigation.statuses).toEqual(['200', '200', '200'])
    expect({
      refreshes: race.refreshes,
      reuse: race.reuse,
      rejected: race.rejected,
      failed: race.failed,
    }).toEqual({ refreshes: 1, reuse: 0, rejected: 0, failed: 0 })
    expect(race.tokens.size).toBe(1)
    expect([...race.tokens].map(familyOf)).toEqual([family])
    expect(navigation.setCookies.map((line) => line.split('=')[0])).toEqual([`${COOKIE}.0`, `${COOKIE}.1`])
    expect(Object.keys(after).sort()).toEqual([`${COOKIE}.0`, `${COOKIE}.1`])
    expect(after[`${COOKIE}.0`]).not.toBe(before[`${COOKIE}.0`])
    expect(server.counters.faultsServed - faults).toBe(2) // the login's and the refresh's answers were padded
    await expectNothingLeaked()
  }, 60_000)

  test('a refresh made in a Server Component (which cannot set the cookie): the next navigation gets the newest session and cookie, with no refresh and no reuse', async () => {
    const { context, page } = await newPage()
    await logIn(page, solo.url, 2)
    const before = await browserCookie(context)

    // The API ends the access tokens early: the proxy sees a token that is not due and lets it through, and the
    // page's three calls meet 401s and make one refresh, whose cookie the Server Component cannot set.
    server.mock.expireAccessTokens()
    const figures = raceFigures(server)
    const first = await navigate(page, `${solo.url}/`)
    expect(first.statuses).toEqual(['200', '200', '200'])
    expect(first.setCookies).toEqual([])
    expect((await browserCookie(context))?.value).toBe(before?.value)
    const renewed = figures()
    expect({ refreshes: renewed.refreshes, reuse: renewed.reuse }).toEqual({ refreshes: 1, reuse: 0 })
    const newToken = server.log.at(-1)?.token

    // The browser still sends the cookie from before that refresh.
    const next = raceFigures(server)
    const second = await navigate(page, `${solo.url}/`)
    const after = await browserCookie(context)
    const race = next()
    console.info(
      'next, after a refresh in a Server Component:',
      JSON.stringify({ refreshesInPage: renewed.refreshes, ...race, tokens: race.tokens.size }),
    )
    expect(second.statuses).toEqual(['200', '200', '200'])
    expect({
      refreshes: race.refreshes,
      reuse: race.reuse,
      rejected: race.rejected,
      failed: race.failed,
    }).toEqual({ refreshes: 0, reuse: 0, rejected: 0, failed: 0 })
    expect([...race.tokens]).toEqual([newToken])
    expect(second.setCookies).toHaveLength(1)
    expect(after?.value).not.toBe(before?.value)
    expect(`${COOKIE}=${after?.value}`).toBe(second.setCookies[0]?.split(';')[0])
    expectNoToken(first.html)
    expectNoToken(second.html)
    await expectNothingLeaked()
  }, 60_000)
})

describe('Next.js app, two `next start` processes sharing Redis (cookieSessions with `store`)', () => {
  test('a refresh made in a Server Component on one process: a navigation on the other gets the newest session and cookie, with no refresh and no reuse', async () => {
    const [a, b] = pair
    const { context, page } = await newPage()
    await logIn(page, a.url, 3)
    const before = await browserCookie(context)

    server.mock.expireAccessTokens()
    const figures = raceFigures(server)
    const first = await navigate(page, `${a.url}/`)
    expect(first.statuses).toEqual(['200', '200', '200'])
    expect(first.setCookies).toEqual([])
    const renewed = figures()
    expect({ refreshes: renewed.refreshes, reuse: renewed.reuse }).toEqual({ refreshes: 1, reuse: 0 })
    const newToken = server.log.at(-1)?.token

    const next = raceFigures(server)
    const second = await navigate(page, `${b.url}/`)
    const after = await browserCookie(context)
    const race = next()
    console.info(
      'next + Redis, after a refresh in a Server Component on the other process:',
      JSON.stringify({ refreshesInPage: renewed.refreshes, ...race, tokens: race.tokens.size }),
    )
    expect(second.statuses).toEqual(['200', '200', '200'])
    expect({
      refreshes: race.refreshes,
      reuse: race.reuse,
      rejected: race.rejected,
      failed: race.failed,
    }).toEqual({ refreshes: 0, reuse: 0, rejected: 0, failed: 0 })
    expect([...race.tokens]).toEqual([newToken])
    expect(second.setCookies).toHaveLength(1)
    expect(after?.value).not.toBe(before?.value)
    expectNoToken(first.html)
    expectNoToken(second.html)
    await expectNothingLeaked()
  }, 60_000)

  test('two concurrent navigations, one on each process, with the same cookie across an expiry: 1 refresh, 0 reuse, every call 200', async () => {
    const [a, b] = pair
    const { context, page } = await newPage()
    const loggedInAt = await logIn(page, a.url, 4)
    const before = await browserCookie(context)
    const family = familyOf(server.log.at(-1)?.token)
    const other = await context.newPage()

    await waitUntil(loggedInAt + ACCESS_TTL_S * 1000 + 500)
    const figures = raceFigures(server)
    const [onA, onB] = await Promise.all([navigate(page, `${a.url}/`), navigate(other, `${b.url}/`)])
    const after = await browserCookie(context)
    const race = figures()
    console.info(
      'next + Redis, 2 processes, concurrent navigations:',
      JSON.stringify({ ...race, tokens: race.tokens.size }),
    )

    expect([onA.statuses, onB.statuses]).toEqual([
      ['200', '200', '200'],
      ['200', '200', '200'],
    ])
    expect({ refreshes: race.refreshes, reuse: race.reuse, rejected: race.rejected }).toEqual({
      refreshes: 1,
      reuse: 0,
      rejected: 0,
    })
    expect({ calls: race.calls, failed: race.failed }).toEqual({ calls: 6, failed: 0 })
    expect([...race.tokens].map(familyOf)).toEqual([family])
    // Each navigation's answer set a new cookie (both name the session's newest version); the browser holds one.
    expect([onA.setCookies.length, onB.setCookies.length]).toEqual([1, 1])
    expect(after?.value).not.toBe(before?.value)
    expect([onA.setCookies[0], onB.setCookies[0]].map((line) => line?.split(';')[0])).toContain(
      `${COOKIE}=${after?.value}`,
    )
    expectNoToken(onA.html)
    expectNoToken(onB.html)

    // With the new cookie, either process: nothing to renew.
    const again = raceFigures(server)
    const third = await navigate(page, `${b.url}/`)
    expect(third.statuses).toEqual(['200', '200', '200'])
    expect(third.setCookies).toEqual([])
    expect(again()).toMatchObject({ refreshes: 0, reuse: 0, failed: 0 })
    await expectNothingLeaked()
  }, 60_000)
})
