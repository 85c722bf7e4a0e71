import { randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Agent, type Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from 'undici'
import { afterEach, describe, expect, test } from 'vitest'
import { sessionInterceptor } from '../../../src/adapters/undici/index.js'
import { RefreshError, type SessionFetch } from '../../../src/index.js'
import { loggedIn } from '../../helpers/adapters.js'
import { mockServer } from '../../helpers/mock-server.js'
import { CALLERS, within } from './callers.js'
import { quirkServer } from './quirk-server.js'

// A refused answer is held only while the refresh runs, and at most a bounded prefix of its body: these tests
// give the interceptor 401s whose bodies are huge or never end, from a node:http server on 127.0.0.1.

const MiB = 1024 * 1024
/** The body of a 401 that is dropped for the replay: it must never be read to its end. */
const HUGE = 160 * MiB
/** The body of a 401 given back to the caller, who reads all of it. */
const LARGE = 32 * MiB
/** What the interceptor may hold on top of the process's memory while it waits (generous: it holds 64 KiB). */
const MEMORY_BOUND = 16 * MiB
/** The refresh's deadline in these tests (the hang detector, HANG_MS, is well above it). */
const REFRESH_TIMEOUT_MS = 3_000
const PATTERN = randomBytes(MiB)

const previous = getGlobalDispatcher()
const agents: Agent[] = []
afterEach(async () => {
  setGlobalDispatcher(previous)
  await Promise.all(agents.splice(0).map((agent) => agent.destroy()))
})

// The garbage of earlier tests (bodies read and dropped) is collected before a measurement starts, so the peak
// over the start is what this test holds, whenever V8 would have collected that garbage on its own.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

/** The peak of the process's Buffer memory over its level when started, sampled on a timer and on demand. */
function memoryMeter() {
  collectGarbage()
  const base = process.memoryUsage().arrayBuffers
  let peak = base
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers)
  }
  const timer = setInterval(sample, 5)
  return {
    sample,
    /** The peak over the start, in bytes; stops sampling. */
    stop() {
      clearInterval(timer)
      sample()
      return peak - base
    },
  }
}

/** An interceptor that changes nothing: the session interceptor's requests pass through one more layer. */
const passThrough: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
  dispatch(opts, handler)

const LAYOUTS = [
  ['composed directly on the Agent', false],
  ['composed above another interceptor', true],
] as const

describe.each(LAYOUTS)('a held 401 is bounded in size and time (undici), %s', (_layout, layered) => {
  function install(plantly: SessionFetch): void {
    const agent = new Agent()
    agents.push(agent)
    const interceptor = sessionInterceptor(plantly)
    setGlobalDispatcher(layered ? agent.compose(passThrough, interceptor) : agent.compose(interceptor))
  }

  /** The session's API on the mock, and a second origin of it (allowedOrigins) with the quirk under test. */
  async function setUp(refreshLatencyMs = 0, refreshTimeoutMs = REFRESH_TIMEOUT_MS) {
    const server = await mockServer({ refreshLatencyMs })
    const quirk = await quirkServer()
    const plantly = await loggedIn(server, { allowedOrigins: [quirk.url], refreshTimeoutMs })
    install(plantly)
    const token = (await plantly.getSession())?.access_token
    return { server, quirk, plantly, token }
  }

  describe.each(CALLERS)('%s', (_caller, call) => {
    test('a 401 with a huge body is replayed without reading the body: its memory stays bounded', async () => {
      const { server, quirk, plantly, token } = await setUp(200)
      const memory = memoryMeter()
      quirk.on('/huge', (_req, res, body) => {
        res.writeHead(401, { 'content-type': 'application/octet-stream', 'content-length': String(HUGE) })
        body.stream(PATTERN, HUGE, memory.sample)
      })

      const got = await within(call(`${quirk.url}/huge`), 'the answer')
      const extra = memory.stop()
      expect(got.status).toBe(200)
      expect((await within(got.read(), 'the body')).length).toBeGreaterThan(0)
      expect(extra).toBeLessThan(MEMORY_BOUND)
      // The refused body was dropped, not read: its connection was closed long before the server's end.
      const [refused] = quirk.bodies('/huge')
      await within(refused?.closed ?? Promise.reject(new Error('no 401')), 'the 401 to be dropped')
      expect(refused?.cutOff()).toBe(true)
      expect(refused?.length()).toBeLessThan(HUGE / 4)
      const next = (await plantly.getSession())?.access_token
      expect(next).not.toBe(token)
      expect(quirk.received.map((entry) => entry.authorization)).toEqual([
        `Bearer ${token}`,
        `Bearer ${next}`,
      ])
      expect(server.counters.refreshes).toBe(1)
    })

    test('a 401 with a large body is given back with exactly its bytes when the session is gone', async () => {
      const { server, quirk, plantly } = await setUp(200)
      server.mock.revokeAll()
      const memory = memoryMeter()
      quirk.on('/large', (_req, res, body) => {
        res.writeHead(401, { 'content-type': 'application/octet-stream', 'content-length': String(LARGE) })
        body.stream(PATTERN, LARGE, memory.sample)
      })

      const got = await within(call(`${quirk.url}/large`), 'the answer')
      const extra = memory.stop() // what the interceptor held until it gave the 401 back
      expect(got.status).toBe(401)
      expect(got.header('content-type')).toBe('application/octet-stream')
      const read = await within(got.read(), 'the body')
      const [written] = quirk.bodies('/large')
      expect(read).toEqual({ length: LARGE, hash: written?.hash() })
      expect(extra).toBeLessThan(MEMORY_BOUND)
      expect(quirk.received).toHaveLength(1)
      expect(server.counters.refreshRejected).toBe(1)
      expect(await plantly.getSession()).toBeUndefined()
    })

    test('a 401 whose body trickles forever is replayed once the refresh ends', async () => {
      const { server, quirk, token } = await setUp()
      quirk.on('/trickle', (_req, res, body) => {
        res.writeHead(401, { 'content-type': 'text/plain' })
        body.write(randomBytes(1000))
        body.trickle(20)
      })

      const got = await within(call(`${quirk.url}/trickle`), 'the replayed answer')
      expect(got.status).toBe(200)
      expect((await within(got.read(), 'the body')).length).toBeGreaterThan(0)
      const [refused] = quirk.bodies('/trickle')
      await within(refused?.closed ?? Promise.reject(new Error('no 401')), 'the 401 to be dropped')
      expect(refused?.cutOff()).toBe(true)
      expect(quirk.received).toHaveLength(2)
      expect(quirk.received[0]?.authorization).toBe(`Bearer ${token}`)
      expect(server.counters.refreshes).toBe(1)
    })

    test('a 401 whose body trickles is given back as it comes when the session is gone: the same bytes', async () => {
      const { server, quirk } = await setUp()
      server.mock.revokeAll()
      let trickling: { stop(): void } | undefined
      quirk.on('/trickle-gone', (_req, res, body) => {
        res.writeHead(401, { 'content-type': 'text/plain', 'x-quirk': 'trickle' })
        body.write(randomBytes(1000))
        trickling = body.trickle(20)
      })

      const got = await within(call(`${quirk.url}/trickle-gone`), "the 401's status and headers")
      expect(got.status).toBe(401)
      expect(got.header('x-quirk')).toBe('trickle')
      trickling?.stop() // only now does the body end
      const read = await within(got.read(), 'the body')
      const [written] = quirk.bodies('/trickle-gone')
      expect(read).toEqual({ length: written?.length(), hash: written?.hash() })
      expect(read.length).toBeGreaterThan(1000)
      expect(quirk.received).toHaveLength(1)
      expect(server.counters.refreshRejected).toBe(1)
    })

    test('a 401 whose body trickles fails at the refresh deadline when the refresh hangs', async () => {
      const { server, quirk } = await setUp(0, 500)
      server.inject({ on: 'refresh', hang: true })
      quirk.on('/trickle-hang', (_req, res, body) => {
        res.writeHead(401, { 'content-type': 'text/plain' })
        body.write(randomBytes(1000))
        body.trickle(20)
      })

      const error = await within(
        call(`${quirk.url}/trickle-hang`).then(
          () => new Error('resolved'),
          (e: unknown) => e,
        ),
        'the refresh deadline',
      )
      // fetch rejects with its TypeError("fetch failed"), the RefreshError as its cause.
      const cause = error instanceof TypeError ? error.cause : error
      expect(cause).toBeInstanceOf(RefreshError)
      const [refused] = quirk.bodies('/trickle-hang')
      await within(refused?.closed ?? Promise.reject(new Error('no 401')), 'the 401 to be dropped')
      expect(refused?.cutOff()).toBe(true)
      expect(quirk.received).toHaveLength(1)
    })
  })
})
