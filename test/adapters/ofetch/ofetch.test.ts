import { type $Fetch, type FetchContext, ofetch } from 'ofetch'
import { describe, expect, test } from 'vitest'
import { createSessionOfetch } from '../../../src/adapters/ofetch/index.js'
import { createSessionFetch, OptionError } from '../../../src/index.js'
import { attempts, type Echo, loggedIn } from '../../helpers/adapters.js'
import { type DropInClient, describeDropIn } from '../../helpers/drop-in.js'
import { mockServer } from '../../helpers/mock-server.js'

function dropIn(api: $Fetch): DropInClient {
  const payload = { name: 'fern', tags: ['green', 'ünïcode'] }
  return {
    call: (n) => api.raw(`/buyers/${n}`).then((response) => response.status),
    async postJson() {
      const echo = await api<Echo>('/plants', { method: 'POST', body: payload })
      return { echo, path: '/plants', json: JSON.stringify(payload) }
    },
    elsewhere: (origin) =>
      api.raw(`${origin}/buyers/1`, { ignoreResponseError: true }).then((response) => response.status),
  }
}

// The plain drop-in any ofetch user can write, and the adapter (relative paths resolve against the session).
describeDropIn('ofetch.create({}, { fetch })', (plantly, server) =>
  dropIn(ofetch.create({ baseURL: server.url, retry: 0 }, { fetch: plantly.fetch })),
)
describeDropIn('createSessionOfetch', (plantly) => dropIn(createSessionOfetch(plantly, { retry: 0 })))

describe('createSessionOfetch', () => {
  test('a per-call onRequest hook replaces the instance hooks (unjs/ofetch#319) but cannot drop the token', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const calls: string[] = []
    const api = createSessionOfetch(plantly, {
      baseURL: server.url,
      onRequest: () => {
        calls.push('instance hook')
      },
    })
    server.mock.expireAccessTokens() // so the call also needs the refresh and the replay

    const echo = await api<Echo>('/traced', {
      method: 'POST',
      body: { name: 'fern' },
      onRequest: ({ options }: FetchContext) => {
        calls.push('per-call hook')
        options.headers.set('x-trace', 'abc')
      },
    })
    expect(calls).toEqual(['per-call hook']) // ofetch dropped the instance hook, as #319 reports
    expect(echo).toMatchObject({ ok: true, method: 'POST' })
    expect(attempts(server, '/traced').map((entry) => entry.status)).toEqual([401, 200])
    expect(attempts(server, '/traced')[1]?.token).toBe((await plantly.getSession())?.access_token)
    expect(server.counters.refreshes).toBe(1)
  })

  test('the trap it avoids: auth in an instance onRequest hook is lost to a per-call hook', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const token = (await plantly.getSession())?.access_token
    const hooked = ofetch.create({
      baseURL: server.url,
      onRequest: ({ options }) => {
        options.headers.set('authorization', `Bearer ${token}`)
      },
    })
    expect((await hooked.raw('/hooked')).status).toBe(200)
    const lost = await hooked.raw('/hooked', { onRequest: () => undefined, ignoreResponseError: true })
    expect(lost.status).toBe(401)
    expect(attempts(server, '/hooked').map((entry) => entry.token)).toEqual([token, undefined])
  })

  test('bad arguments are named', () => {
    const plantly = createSessionFetch({ baseURL: 'https://api.plantly.test' })
    expect(() => createSessionOfetch({} as never)).toThrow(OptionError)
    expect(() => createSessionOfetch({} as never)).toThrow(/`session`/)
    expect(() => createSessionOfetch(plantly, 'https://x' as never)).toThrow(/`defaults`/)
  })
})
