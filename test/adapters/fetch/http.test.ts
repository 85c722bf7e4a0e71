import { describe, expect, test } from 'vitest'
import { createSessionFetch, RefreshError } from '../../../src/index.js'
import { PlantlyMock } from '../../../src/testing/mock/index.js'
import { apiServer } from '../../helpers/api-server.js'
import { listen } from '../../helpers/http-server.js'
import { DEMO_USER, mockServer } from '../../helpers/mock-server.js'

describe('over real HTTP against the mock server', () => {
  test('300 requests with mixed bodies in flight when the tokens expire: one refresh, nothing lost or doubled', async () => {
    const server = await mockServer({ latencyMs: 20 })
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    const bodies = [
      undefined,
      JSON.stringify({ a: 1 }),
      new URLSearchParams({ b: '2' }),
      new Uint8Array([1, 2, 3]),
      new Blob(['blob']),
    ]
    const calls = Array.from({ length: 300 }, (_, i) => {
      const body = bodies[i % bodies.length]
      return plantly.fetch(`/items/${i}`, body === undefined ? {} : { method: 'POST', body })
    })
    setTimeout(() => server.mock.expireAccessTokens(), 5)
    const responses = await Promise.all(calls)
    expect(responses.filter((r) => r.status !== 200)).toHaveLength(0)
    expect(server.counters.refreshes).toBe(1)
    for (let i = 0; i < 300; i++) {
      const sent = server.log.filter((entry) => entry.path === `/items/${i}`)
      expect(sent.length === 1 || sent.length === 2).toBe(true)
      expect(new Set(sent.map((entry) => entry.bodyHash)).size).toBe(1)
      expect(sent.at(-1)?.status).toBe(200)
    }
  })

  test('a refresh that never answers fails within refreshTimeoutMs with RefreshError; the session is kept', async () => {
    const server = await mockServer()
    const plantly = createSessionFetch({ baseURL: server.url, refreshTimeoutMs: 300 })
    await plantly.login(DEMO_USER)
    server.mock.expireAccessTokens()
    server.inject({ on: 'refresh', hang: true, times: 5 })
    const error = await plantly.fetch('/a').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshError)
    expect((error as RefreshError).cause).toMatchObject({ name: 'TimeoutError' })
    expect(await plantly.getSession()).toBeDefined()
  })

  test('502 and 429 with Retry-After are retried by ofetch and the refresh succeeds', async () => {
    const server = await mockServer()
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    server.mock.expireAccessTokens()
    server.inject(
      { on: 'refresh', status: 502 },
      { on: 'refresh', status: 429, headers: { 'retry-after': '0' } },
    )
    const response = await plantly.fetch('/a')
    expect(response.status).toBe(200)
    expect(server.counters.faultsServed).toBe(2)
    expect(server.counters.refreshes).toBe(1)
  })

  test('a redirect to another origin does not carry the access token there', async () => {
    const mock = new PlantlyMock()
    const seenElsewhere: (string | undefined)[] = []
    const elsewhere = await listen((req, res) => {
      seenElsewhere.push(req.headers.authorization)
      res.end('landed')
    })
    const api = await listen(async (req, res) => {
      if (req.url === '/go') {
        res.writeHead(302, { location: `${elsewhere}/landing` }).end()
        return
      }
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const reply = await mock.handle({
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: new Headers(req.headers as Record<string, string>),
        body: new Uint8Array(Buffer.concat(chunks)),
      })
      if (reply.kind !== 'response') return void req.socket.destroy()
      res.writeHead(reply.status, reply.headers).end(reply.body)
    })
    const plantly = createSessionFetch({ baseURL: api })
    await plantly.login(DEMO_USER)
    const response = await plantly.fetch('/go')
    expect(await response.text()).toBe('landed')
    expect(seenElsewhere).toEqual([undefined])
  })

  test('an idle client keeps no handle open: a child process exits on its own', async () => {
    const server = await mockServer()
    const { execFile } = await import('node:child_process')
    const script = `
      import { createSessionFetch } from './src/index.ts'
      const plantly = createSessionFetch({ baseURL: ${JSON.stringify(server.url)} })
      await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
      const r = await plantly.fetch('/a'); await r.text()
      console.log('done', r.status)
    `
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: process.cwd(), timeout: 15_000 },
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      )
    })
    expect(output.trim()).toBe('done 200')
  })
})

describe('a refused answer whose body never ends', () => {
  test('a 401 whose body trickles does not hold the replay up once the refresh is done', async () => {
    let trickling: NodeJS.Timeout | undefined
    let refused = 0
    const api = await apiServer((req, res) => {
      if (req.url !== '/slow-refusal') return false
      if (refused === 0) {
        refused++
        res.writeHead(401, { 'content-type': 'text/plain' })
        res.write('x')
        trickling = setInterval(() => res.write('x'), 20) // one byte every 20 ms, never ending
        res.on('close', () => clearInterval(trickling))
      } else {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('{"ok":true}')
      }
      return true
    })
    const plantly = createSessionFetch({ baseURL: api.url })
    await plantly.login(DEMO_USER)
    const answer = await plantly.fetch('/slow-refusal')
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({ ok: true })
    expect(refused).toBe(1)
    expect(api.mock.counters.refreshes).toBe(1)
    const sent = api.received.filter((request) => request.path === '/slow-refusal')
    expect(sent).toHaveLength(2)
    expect(sent[1]?.authorization).not.toBe(sent[0]?.authorization) // replayed with the new token
    clearInterval(trickling)
  })
})
