import { describe, expect, test } from 'vitest'
import type { SessionRequestInit } from '../../src/index.js'
import { attempts, loggedIn, settled, sha256 } from '../helpers/adapters.js'
import { mockServer } from '../helpers/mock-server.js'

// Streamed request bodies through the fetch wrapper, over real HTTP: replayed from the copy kept while they
// were sent when they fit in replayBufferBytes, from a replayBody factory when there is one, else given back.

const KiB = 1024

function bytesOf(size: number): Uint8Array {
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
