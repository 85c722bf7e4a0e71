import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, test, vi } from 'vitest'
import { createSessionFetch, memoryStore } from '../../src/index.js'
import { until } from '../helpers/adapters.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'
import { plainClient, REDIS_URL, uniqueKey } from '../helpers/redis.js'
import { startWorkers } from '../helpers/workers.js'

const OTHER_USER = { email_address: 'other@plantly.test', password: 'green' }
const users = {
  [DEMO_USER.email_address]: DEMO_USER.password,
  [OTHER_USER.email_address]: OTHER_USER.password,
}

describe('logout() during a refresh', () => {
  test('waits for the refresh and ends the newest session: no rotated refresh token is presented', async () => {
    const server = await mockServer({ refreshLatencyMs: 100 })
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    // The server answers logout's DELETE only after it has processed the refresh (rotating both tokens).
    server.inject({ on: 'logout', delayMs: 200 })
    const refreshing = plantly.refresh().catch((error: unknown) => error)
    await until(() => server.mock.counters.maxConcurrentRefreshes === 1, 'the refresh to reach the server')
    await plantly.logout()
    expect(await refreshing).toMatchObject({ name: 'SessionExpiredError' })
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.logouts).toBe(1)
    expect(server.mock.liveSessions()).toBe(0)
    expect(await plantly.getSession()).toBeUndefined()
  })

  test('a sibling on the same store refreshing while another instance logs out: the newest session ends', async () => {
    const server = await mockServer({ refreshLatencyMs: 100 })
    const store = memoryStore()
    const a = createSessionFetch({ baseURL: server.url, store })
    const b = createSessionFetch({ baseURL: server.url, store })
    await a.login(DEMO_USER)
    server.inject({ on: 'logout', delayMs: 200 })
    const refreshing = a.refresh().catch((error: unknown) => error)
    await until(() => server.mock.counters.maxConcurrentRefreshes === 1, 'the refresh to reach the server')
    await b.logout()
    await refreshing
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.mock.liveSessions()).toBe(0)
    expect(await a.getSession()).toBeUndefined()
    expect(await b.getSession()).toBeUndefined()
  })
})

describe('login() and logout() keep their order', () => {
  test('login() then logout() without awaiting: logged out, and the login’s session ended on the server', async () => {
    const server = await mockServer({ latencyMs: 30 })
    const plantly = createSessionFetch({ baseURL: server.url })
    const login = plantly.login(DEMO_USER)
    const logout = plantly.logout()
    await login
    await logout
    expect(await plantly.getSession()).toBeUndefined()
    expect(server.counters.logins).toBe(1)
    expect(server.counters.logouts).toBe(1)
    expect(server.mock.liveSessions()).toBe(0)
    expect((await plantly.fetch('/a')).status).toBe(401)
    expect(server.log.at(-1)?.token).toBeUndefined()
  })

  test('concurrent login() calls with the same credentials share one call', async () => {
    const server = await mockServer({ latencyMs: 30 })
    const plantly = createSessionFetch({ baseURL: server.url })
    const sessions = await Promise.all([
      plantly.login(DEMO_USER),
      plantly.login({ ...DEMO_USER }),
      plantly.login(DEMO_USER),
    ])
    expect(server.counters.logins).toBe(1)
    expect(new Set(sessions.map((session) => session.access_token)).size).toBe(1)
    await plantly.logout()
    expect(server.mock.liveSessions()).toBe(0)
  })

  test('3 concurrent logins then a logout leave no live session on the server', async () => {
    const server = await mockServer({ latencyMs: 30, users })
    const plantly = createSessionFetch({ baseURL: server.url })
    const logins = [plantly.login(DEMO_USER), plantly.login(OTHER_USER), plantly.login(DEMO_USER)]
    const logout = plantly.logout()
    await Promise.all([...logins, logout])
    expect(server.counters.logins).toBe(3)
    await until(() => server.mock.liveSessions() === 0, 'every session to be ended on the server')
    expect(await plantly.getSession()).toBeUndefined()
  })

  test('a login that replaces a live session ends the old one on the server', async () => {
    const server = await mockServer({ users })
    const plantly = createSessionFetch({ baseURL: server.url })
    const first = await plantly.login(DEMO_USER)
    const second = await plantly.login(OTHER_USER)
    expect(second.access_token).not.toBe(first.access_token)
    await until(() => server.mock.liveSessions() === 1, 'the replaced session to be ended')
    expect(server.counters.logouts).toBe(1)
    expect((await plantly.fetch('/a')).status).toBe(200)
  })

  test('a login() aborted by its only caller is not sent; one of two sharing callers can leave alone', async () => {
    const server = await mockServer({ latencyMs: 50 })
    const plantly = createSessionFetch({ baseURL: server.url })
    const leaving = new AbortController()
    const staying = plantly.login(DEMO_USER)
    const left = plantly.login(DEMO_USER, { signal: leaving.signal })
    leaving.abort(new Error('gave up'))
    await expect(left).rejects.toThrow('gave up')
    await expect(staying).resolves.toMatchObject({ type: 'auth.session' })
    expect(server.counters.logins).toBe(1)
  })
})

describe('an instance that only listens hears the store', () => {
  test('memory store: events from a sibling reach an instance that never made a call', async () => {
    const server = await mockServer()
    const store = memoryStore()
    const idle = createSessionFetch({ baseURL: server.url, store })
    const heard: string[] = []
    for (const name of ['login', 'refresh', 'logout'] as const)
      idle.on(name, ({ source }) => heard.push(`${name}:${source}`))
    const active = createSessionFetch({ baseURL: server.url, store })
    await active.login(DEMO_USER)
    await active.refresh()
    await active.logout()
    await vi.waitFor(() => expect(heard).toEqual(['login:store', 'refresh:store', 'logout:store']))
  })

  test('Redis: a process that only registered listeners hears another process log in and out', async () => {
    const server = await mockServer()
    const key = uniqueKey('idle-listener')
    const [active, idle] = await startWorkers(2, { baseURL: server.url, redisURL: REDIS_URL, key })
    if (!active || !idle) throw new Error('workers did not start')
    // Registering the listeners made each worker read the store and then subscribe to its changes; a login
    // that lands before the idle one's first read would be adopted as its starting state, not announced.
    const redis = await plainClient()
    const channel = `${key}:changes`
    for (let i = 0; ((await redis.pubSubNumSub(channel))[channel] ?? 0) < 2; i++) {
      if (i === 500) throw new Error('the workers did not subscribe to the store in 10 s')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await active.call('login')
    await until(
      () => idle.events.some((e) => e.event === 'login' && e.source === 'store'),
      'the login notice',
    )
    await active.call('logout')
    await until(
      () => idle.events.some((e) => e.event === 'logout' && e.source === 'store'),
      'the logout notice',
    )
    await Promise.all([active.call('exit'), idle.call('exit')])
  }, 60_000)

  test('Redis: listening never keeps a Node process alive by itself', async () => {
    const server = await mockServer()
    const script = `
      import { createSessionFetch } from ${JSON.stringify(fileURLToPath(new URL('../../src/index.ts', import.meta.url)))}
      import { redisStore } from ${JSON.stringify(fileURLToPath(new URL('../../src/stores/redis/index.ts', import.meta.url)))}
      const plantly = createSessionFetch({ baseURL: process.env.SF_BASE_URL, store: redisStore({ url: process.env.SF_REDIS_URL, key: process.env.SF_KEY }) })
      plantly.on('logout', () => {})
      await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
      const response = await plantly.fetch('/buyers')
      console.log(response.status)
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, SF_BASE_URL: server.url, SF_REDIS_URL: REDIS_URL, SF_KEY: uniqueKey('unref') },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    const code = await exited
    clearTimeout(timer)
    expect(output.trim()).toBe('200')
    expect(code).toBe(0) // exited on its own, without close(): not killed by the timer
  }, 30_000)
})
