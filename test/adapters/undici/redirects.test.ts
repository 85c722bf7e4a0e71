import { Agent, type Dispatcher, getGlobalDispatcher, interceptors, setGlobalDispatcher } from 'undici'
import { afterEach, describe, expect, test } from 'vitest'
import { sessionInterceptor } from '../../../src/adapters/undici/index.js'
import type { SessionFetch } from '../../../src/index.js'
import { loggedIn } from '../../helpers/adapters.js'
import { mockServer, recordRequests } from '../../helpers/mock-server.js'
import { CALLERS, within } from './callers.js'
import { quirkServer } from './quirk-server.js'

// undici's redirect interceptor follows a redirect inside one dispatch: composed below the session interceptor,
// it hands the session the answer of whichever origin the redirect led to. Composed above it, each hop is a
// dispatch of its own. Either way a 401 from an origin the session does not cover is not about its token.

const previous = getGlobalDispatcher()
const agents: Agent[] = []
afterEach(async () => {
  setGlobalDispatcher(previous)
  await Promise.all(agents.splice(0).map((agent) => agent.destroy()))
})

const ORDERS: [string, (session: Dispatcher.DispatcherComposeInterceptor) => Dispatcher][] = [
  [
    'compose(redirect, session): the session sees the answer of the last hop',
    (session) => {
      const agent = new Agent()
      agents.push(agent)
      return agent.compose(interceptors.redirect({ maxRedirections: 3 }), session)
    },
  ],
  [
    'compose(session, redirect): the session sees each hop',
    (session) => {
      const agent = new Agent()
      agents.push(agent)
      return agent.compose(session, interceptors.redirect({ maxRedirections: 3 }))
    },
  ],
]

describe.each(ORDERS)("undici's redirect interceptor, %s", (_order, compose) => {
  function install(plantly: SessionFetch): void {
    setGlobalDispatcher(compose(sessionInterceptor(plantly)))
  }

  describe.each(CALLERS)('%s', (_caller, call) => {
    test('a redirect to another origin that answers 401 is given back as is: no refresh, no token there', async () => {
      const server = await mockServer()
      const foreign = await quirkServer()
      foreign.on(
        '/elsewhere',
        (_req, res, body) => {
          res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="elsewhere"' })
          body.write(Buffer.from('not yours'))
          body.end()
        },
        { once: false },
      )
      const plantly = await loggedIn(server)
      install(plantly)
      const token = (await plantly.getSession())?.access_token
      const received = recordRequests(server)
      server.inject({ on: 'api', status: 302, headers: { location: `${foreign.url}/elsewhere` }, body: '' })

      const got = await within(call(`${server.url}/start`), 'the answer')
      expect(got.status).toBe(401)
      expect(got.header('www-authenticate')).toBe('Bearer realm="elsewhere"')
      const read = await within(got.read(), 'the body')
      expect(read.hash).toBe(foreign.bodies('/elsewhere')[0]?.hash())
      // The first hop, to the session's origin, carried the token; the redirect's target never saw it.
      expect(received.map((entry) => [entry.path, entry.authorization])).toEqual([
        ['/start', `Bearer ${token}`],
      ])
      expect(foreign.received).toEqual([{ path: '/elsewhere', authorization: undefined }]) // once, no token
      expect(server.counters.refreshes).toBe(0)
      expect(plantly.stats().replays).toBe(0)
      expect((await plantly.getSession())?.access_token).toBe(token)
    })

    test('a redirect within the origin that answers 401 is still a refused token: refreshed, replayed', async () => {
      const server = await mockServer()
      const plantly = await loggedIn(server)
      install(plantly)
      server.mock.expireAccessTokens()
      server.inject({ on: 'api', status: 302, headers: { location: `${server.url}/moved` }, body: '' })

      const got = await within(call(`${server.url}/start`), 'the answer')
      expect(got.status).toBe(200)
      await within(got.read(), 'the body')
      expect(server.counters.refreshes).toBe(1)
      expect(plantly.stats().replays).toBe(1)
    })
  })
})
