import { describe, expect, test } from 'vitest'
import { createSessionFetch, type SessionRequestInit } from '../../src/index.js'
import { attempts, loggedIn, settled, sha256 } from '../helpers/adapters.js'
import { apiServer } from '../helpers/api-server.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

// Streamed request bodies through the fetch wrapper, over real HTTP: replayed from the copy kept while they
// were sent when they fit in replayBufferBytes, from a replayBody factory when there is one, else given back.

const KiB = 1024

function bytesOf(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31) % 251
  return bytes
}

/** A ReadableStream of `bytes` in chunks of 16 KiB, as a file upload would arrive. */
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close()
      controller.enqueue(bytes.slice(at, at + 16 * KiB))
      at += 16 * KiB
    },
  })
}

async function* iterableOf(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += 16 * KiB) yield bytes.slice(at, at + 16 * KiB)
}

describe('a streamed body met by a 401', () => {
  test('within replayBufferBytes (default 1 MiB): replayed with the bytes it sent', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    server.mock.expireAccessTokens()
    const bytes = bytesOf(200 * KiB)
    const init: SessionRequestInit = { method: 'PUT', body: streamOf(bytes), duplex: 'half' }
    const response = await plantly.fetch('/upload', init)
    expect(response.status).toBe(200)
    const sent = attempts(server, '/upload')
    expect(sent.map((entry) => entry.status)).toEqual([401, 200])
    expect(sent.map((entry) => entry.bodyHash)).toEqual([sha256(bytes), sha256(bytes)])
    expect(plantly.stats().replays).toBe(1)
  })

  test('an async iterable body is replayed the same way', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    server.mock.expireAccessTokens()
    const bytes = bytesOf(100 * KiB)
    const init = { method: 'POST', body: iterableOf(bytes), duplex: 'half' } as unknown as SessionRequestInit
    const response = await plantly.fetch('/iterable', init)
    expect(response.status).toBe(200)
    expect(attempts(server, '/iterable').map((entry) => entry.bodyHash)).toEqual([
      sha256(bytes),
      sha256(bytes),
    ])
  })

  test('over replayBufferBytes: sent once, its 401 given back, the refresh still made', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server, { replayBufferBytes: 64 * KiB })
    server.mock.expireAccessTokens()
    const init: SessionRequestInit = { method: 'PUT', body: streamOf(bytesOf(200 * KiB)), duplex: 'half' }
    const response = await plantly.fetch('/big', init)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ code: 'unauthorized' }) // its own body, intact
    expect(attempts(server, '/big')).toHaveLength(1)
    await settled(plantly)
    expect(server.counters.refreshes).toBe(1)
    expect((await plantly.fetch('/next')).status).toBe(200)
  })

  test('replayBufferBytes: 0 keeps no copy: the 401 is given back', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server, { replayBufferBytes: 0 })
    server.mock.expireAccessTokens()
    const init: SessionRequestInit = { method: 'PUT', body: streamOf(bytesOf(KiB)), duplex: 'half' }
    expect((await plantly.fetch('/none', init)).status).toBe(401)
    expect(attempts(server, '/none')).toHaveLength(1)
  })

  test('a replayBody factory makes the body again for the replay, whatever its size', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server, { replayBufferBytes: 16 * KiB })
    server.mock.expireAccessTokens()
    const bytes = bytesOf(300 * KiB)
    let made = 0
    const init: SessionRequestInit = {
      method: 'PUT',
      body: streamOf(bytes),
      duplex: 'half',
      replayBody: () => {
        made++
        return streamOf(bytes)
      },
    }
    const response = await plantly.fetch('/factory', init)
    expect(response.status).toBe(200)
    expect(made).toBe(1)
    expect(attempts(server, '/factory').map((entry) => entry.bodyHash)).toEqual([
      sha256(bytes),
      sha256(bytes),
    ])
  })

  test('the factory is not called when no replay is needed', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    let made = 0
    const init: SessionRequestInit = {
      method: 'PUT',
      body: streamOf(bytesOf(KiB)),
      duplex: 'half',
      replayBody: () => {
        made++
        return streamOf(bytesOf(KiB))
      },
    }
    expect((await plantly.fetch('/fine', init)).status).toBe(200)
    expect(made).toBe(0)
  })
})

// A Request's body reads as a stream whatever it was made from: it follows the same rule as a stream in
// init.body (sent as it comes, a copy kept up to replayBufferBytes), and a body made from a string, a Blob,
// FormData or URLSearchParams still goes out as fetch sends it and is replayed with the same bytes.
describe('a Request with a body', () => {
  /** A server whose `/endless` says when the first bytes of its body arrive, and never answers. */
  async function endlessServer() {
    let firstBytes: (bytes: string) => void = () => undefined
    const arrived = new Promise<string>((resolve) => {
      firstBytes = resolve
    })
    const server = await apiServer((req) => {
      if (req.url !== '/endless') return false
      req.once('data', (chunk: Buffer) => firstBytes(chunk.toString()))
      return true // never answered: the client aborts
    })
    return { server, arrived }
  }

  test('a stream that never ends has its first bytes reach the server', async () => {
    const { server, arrived } = await endlessServer()
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    const abort = new AbortController()
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('first bytes'))
        // …and nothing more, ever.
      },
    })
    const request = new Request(`${server.url}/endless`, {
      method: 'POST',
      body,
      duplex: 'half',
      signal: abort.signal,
    } as SessionRequestInit)
    const call = plantly.fetch(request).catch((error: unknown) => error)
    const hang = new Promise((resolve) => setTimeout(() => resolve('nothing arrived within 10 s'), 10_000))
    expect(await Promise.race([arrived, hang])).toBe('first bytes')
    expect(server.received.find((r) => r.path === '/endless')?.authorization).toMatch(/^Bearer /)
    abort.abort()
    expect(await call).toMatchObject({ name: 'AbortError' })
  })

  test('a small stream is replayed byte for byte after a 401', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    server.mock.expireAccessTokens()
    const bytes = bytesOf(200 * KiB)
    const request = new Request(`${server.url}/upload`, {
      method: 'PUT',
      body: streamOf(bytes),
      duplex: 'half',
      headers: { 'content-type': 'application/octet-stream' },
    } as SessionRequestInit)
    const response = await plantly.fetch(request)
    expect(response.status).toBe(200)
    const sent = attempts(server, '/upload')
    expect(sent.map((entry) => entry.status)).toEqual([401, 200])
    expect(sent.map((entry) => entry.bodyHash)).toEqual([sha256(bytes), sha256(bytes)])
    expect(sent.map((entry) => entry.contentType)).toEqual([
      'application/octet-stream',
      'application/octet-stream',
    ])
    expect(plantly.stats().replays).toBe(1)
  })

  test('a stream past replayBufferBytes: sent once, its 401 given back, the refresh still made', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server, { replayBufferBytes: 64 * KiB })
    server.mock.expireAccessTokens()
    const request = new Request(`${server.url}/big`, {
      method: 'PUT',
      body: streamOf(bytesOf(200 * KiB)),
      duplex: 'half',
    } as SessionRequestInit)
    const response = await plantly.fetch(request)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ code: 'unauthorized' }) // its own body, intact
    expect(attempts(server, '/big')).toHaveLength(1)
    await settled(plantly)
    expect(server.counters.refreshes).toBe(1)
    expect((await plantly.fetch('/next')).status).toBe(200)
  })

  const made: [string, () => BodyInit][] = [
    ['a string', () => JSON.stringify({ plant: 'fern' })],
    ['a Blob', () => new Blob([bytesOf(3 * KiB)], { type: 'image/png' })],
    [
      'FormData',
      () => {
        const form = new FormData()
        form.append('name', 'Fern')
        form.append('photo', new Blob([bytesOf(KiB)], { type: 'image/png' }), 'fern.png')
        return form
      },
    ],
    ['URLSearchParams', () => new URLSearchParams({ plant: 'fern', n: '1' })],
  ]

  test.each(made)(
    'made from %s: sent with its length as fetch sends it, replayed with the same bytes and Content-Type',
    async (kind, body) => {
      const lengths: (string | undefined)[] = []
      const encodings: (string | undefined)[] = []
      const server = await apiServer((req) => {
        if (req.url === '/plants') {
          lengths.push(req.headers['content-length'])
          encodings.push(req.headers['transfer-encoding'])
        }
        return false
      })
      const plantly = createSessionFetch({ baseURL: server.url })
      await plantly.login(DEMO_USER)
      server.mock.expireAccessTokens()
      const request = new Request(`${server.url}/plants`, { method: 'POST', body: body() })
      const expected = new Request(`${server.url}/plants`, { method: 'POST', body: body() })
      const response = await plantly.fetch(request)
      expect(response.status).toBe(200)
      const [first, replay] = server.mock.log.filter((entry) => entry.path === '/plants')
      expect([first?.status, replay?.status]).toEqual([401, 200])
      expect(replay?.bodyHash).toBe(first?.bodyHash)
      expect(replay?.contentType).toBe(first?.contentType)
      if (kind === 'FormData') expect(first?.contentType).toMatch(/^multipart\/form-data; boundary=/)
      else {
        expect(first?.contentType).toBe(expected.headers.get('content-type'))
        expect(first?.bodyHash).toBe(sha256(new Uint8Array(await expected.arrayBuffer())))
      }
      // Not turned into a chunked upload: both attempts say their length, as fetch does for such a body.
      expect(encodings).toEqual([undefined, undefined])
      expect(lengths).toEqual([lengths[1], expect.stringMatching(/^\d+$/)])
    },
  )

  test('whose body was already used: rejects as fetch does, with nothing sent and no token asked for', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const used = () => {
      const request = new Request(`${server.url}/plants`, { method: 'POST', body: 'once' })
      return request.text().then(() => request)
    }
    const expected = await fetch(await used()).catch((error: unknown) => error)
    expect(expected).toBeInstanceOf(TypeError)
    server.mock.expireAccessTokens() // a request that asked for a token would now start a refresh
    const error = await plantly.fetch(await used()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect((error as TypeError).message).toBe((expected as TypeError).message)
    expect(attempts(server, '/plants')).toHaveLength(0)
    expect(server.counters.refreshes).toBe(0)
  })
})
