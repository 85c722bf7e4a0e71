import { afterEach, describe, expect, test, vi } from 'vitest'
import { serializeFormData } from '../../src/adapters/shared/form-data.js'
import { BASE, plantlyApi } from '../helpers/msw.js'

const form = () => {
  const data = new FormData()
  data.append('name', 'Fern')
  data.append('photo', new Blob([new Uint8Array([1, 2, 3, 250])], { type: 'image/png' }), 'fern.png')
  return data
}

const bodies: [string, () => BodyInit][] = [
  ['string', () => JSON.stringify({ plant: 'fern', n: 1 })],
  ['URLSearchParams', () => new URLSearchParams({ plant: 'fern', n: '1' })],
  ['FormData', form],
  ['Blob', () => new Blob(['plant=fern'], { type: 'text/x-plant' })],
  ['ArrayBuffer', () => new Uint8Array([0, 1, 2, 255]).buffer],
  ['Uint8Array', () => new Uint8Array([9, 8, 7])],
  ['Float64Array', () => new Float64Array([1.5, -2])],
  ['DataView', () => new DataView(new Uint8Array([4, 5, 6]).buffer)],
]

describe('a replay after a 401 re-sends identical bytes and headers', () => {
  test.each(bodies)('%s body', async (_kind, makeBody) => {
    const { plantly, mock } = await plantlyApi()
    mock.expireAccessTokens()
    const response = await plantly.fetch('/plants', {
      method: 'POST',
      body: makeBody(),
      headers: { 'x-trace': 't1' },
    })
    expect(response.status).toBe(200)
    const [first, replay] = mock.log.filter((entry) => entry.path === '/plants')
    expect(first?.status).toBe(401)
    expect(replay?.status).toBe(200)
    expect(replay?.bodyHash).toBe(first?.bodyHash)
    expect(replay?.contentType).toBe(first?.contentType)
    expect(replay?.token).not.toBe(first?.token)
    expect(mock.counters.refreshes).toBe(1)
  })

  test('a FormData body keeps one multipart boundary across the replay', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.expireAccessTokens()
    await plantly.fetch('/plants', { method: 'POST', body: form() })
    const [first, replay] = mock.log
    expect(first?.contentType).toMatch(/^multipart\/form-data; boundary=/)
    expect(replay?.contentType).toBe(first?.contentType)
  })

  test('a Request input with a body (as openapi-fetch sends) is replayed with the same bytes and headers', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.expireAccessTokens()
    const request = new Request(`${BASE}/plants`, {
      method: 'PUT',
      body: JSON.stringify({ plant: 'fern' }),
      headers: { 'content-type': 'application/json', 'x-trace': 't2' },
    })
    const response = await plantly.fetch(request)
    expect(response.status).toBe(200)
    const [first, replay] = mock.log
    expect([first?.method, replay?.method]).toEqual(['PUT', 'PUT'])
    expect(replay?.bodyHash).toBe(first?.bodyHash)
    expect(replay?.contentType).toBe('application/json')
  })

  test('init.body overrides the body of a Request input, as in fetch', async () => {
    const { plantly, mock } = await plantlyApi()
    const request = new Request(`${BASE}/plants`, { method: 'POST', body: 'from-request' })
    await plantly.fetch(request, { body: 'from-init', method: 'POST' })
    const expected = await mock.log[0]?.bodyHash
    const { plantly: other, mock: otherMock } = await plantlyApi()
    await other.fetch('/plants', { method: 'POST', body: 'from-init' })
    expect(otherMock.log[0]?.bodyHash).toBe(expected)
  })

  test('the caller’s init and headers objects are not modified', async () => {
    const { plantly } = await plantlyApi()
    const headers = new Headers({ 'x-a': '1' })
    const init = { method: 'POST', body: 'x', headers }
    await plantly.fetch('/plants', init)
    expect([...headers]).toEqual([['x-a', '1']])
    expect(init).toEqual({ method: 'POST', body: 'x', headers })
  })
})

describe('FormData is serialized with its boundary on every runtime', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  test('the multipart Content-Type is read before the body (Bun answers null once the body is read)', async () => {
    // Bun's Request, as 1.4 behaves: the Content-Type of a FormData body disappears once the body is read.
    class BodyReadForgetsContentType extends Request {
      #read = false
      override async arrayBuffer(): Promise<ArrayBuffer> {
        this.#read = true
        return super.arrayBuffer()
      }
      override get headers(): Headers {
        const headers = new Headers(super.headers)
        if (this.#read) headers.delete('content-type')
        return headers
      }
    }
    vi.stubGlobal('Request', BodyReadForgetsContentType)
    const { bytes, contentType } = await serializeFormData(form())
    const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(contentType)?.[1]
    expect(boundary).toBeDefined()
    expect(new TextDecoder().decode(bytes)).toContain(`--${boundary}\r\n`)
  })
})

describe('a ReadableStream body is never buffered', () => {
  function stream(chunks: string[]) {
    let pulls = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks[pulls++]
        if (chunk === undefined) controller.close()
        else controller.enqueue(new TextEncoder().encode(chunk))
      },
    })
    return { body, pulls: () => pulls }
  }

  test('over replayBufferBytes it is sent once; a 401 is returned as is, and the session is still renewed', async () => {
    const { plantly, mock } = await plantlyApi({ client: { replayBufferBytes: 1 } })
    mock.expireAccessTokens()
    const { body } = stream(['a', 'b'])
    const response = await plantly.fetch('/upload', { method: 'POST', body, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ code: 'unauthorized' })
    expect(mock.log.filter((entry) => entry.path === '/upload')).toHaveLength(1)
    const later = await plantly.fetch('/buyers')
    expect(later.status).toBe(200)
    expect(mock.counters.refreshes).toBe(1)
  })

  test('within replayBufferBytes it is replayed after a 401 with the bytes it sent', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.expireAccessTokens()
    const { body } = stream(['a', 'b'])
    const response = await plantly.fetch('/upload', { method: 'POST', body, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(200)
    const sent = mock.log.filter((entry) => entry.path === '/upload')
    expect(sent.map((entry) => entry.status)).toEqual([401, 200])
    expect(sent[1]?.bodyHash).toBe(sent[0]?.bodyHash)
    expect(plantly.stats().replays).toBe(1)
  })

  test('it goes through untouched when the token is valid', async () => {
    const { plantly, mock } = await plantlyApi()
    const { body } = stream(['hello ', 'world'])
    const response = await plantly.fetch('/upload', { method: 'POST', body, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(200)
    const expected = Array.from(
      new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('hello world'))),
      (b) => b.toString(16).padStart(2, '0'),
    ).join('')
    expect(mock.log[0]?.bodyHash).toBe(expected)
  })
})
