import { describe, expect, test } from 'vitest'
import { createSessionFetch } from '../../../src/index.js'
import { DEMO_USER, mockServer } from '../../helpers/mock-server.js'

describe('the Plantly protocol reads a session whatever content type it is served with', () => {
  test.each(['text/plain', 'text/json', 'text/plain; charset=utf-8', 'application/octet-stream'])(
    'login and refresh answered as %s with a JSON body are accepted',
    async (type) => {
      const server = await mockServer()
      const plantly = createSessionFetch({ baseURL: server.url })
      // The mock's real session, served under another content type.
      const asIs = (session: Record<string, unknown>) => JSON.stringify(session)
      server.inject(
        { on: 'login', body: asIs, headers: { 'content-type': type } },
        { on: 'refresh', body: asIs, headers: { 'content-type': type } },
      )
      const first = await plantly.login(DEMO_USER)
      const second = await plantly.refresh()
      expect(server.counters.faultsServed).toBe(2)
      expect(second.access_token).not.toBe(first.access_token)
      const response = await plantly.fetch('/buyers')
      expect(response.status).toBe(200)
      expect(server.log.at(-1)).toMatchObject({ token: second.access_token })
    },
  )

  test('a text/plain body that is not JSON is still refused, naming the problem', async () => {
    const server = await mockServer()
    const plantly = createSessionFetch({ baseURL: server.url })
    server.inject({ on: 'login', status: 200, body: 'OK', headers: { 'content-type': 'text/plain' } })
    await expect(plantly.login(DEMO_USER)).rejects.toMatchObject({
      name: 'LoginError',
      message: expect.stringMatching(/`body` is not a JSON object/),
    })
  })
})
