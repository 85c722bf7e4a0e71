// What the adapters take: a createSessionFetch() client of any protocol, typed as `SessionFetch<unknown>`. The
// type assertions here are checked by `npm run typecheck` (tsc covers test/); the requests, over real HTTP.
import axios from 'axios'
import { Agent, request } from 'undici'
import { afterEach, describe, expect, expectTypeOf, test } from 'vitest'
import { type SessionSource as AxiosSessionSource, attachSession } from '../../../src/adapters/axios/index.js'
import { createSessionOfetch } from '../../../src/adapters/ofetch/index.js'
import {
  sessionInterceptor,
  type SessionSource as UndiciSessionSource,
} from '../../../src/adapters/undici/index.js'
import { createSessionFetch, OptionError, type SessionFetch } from '../../../src/index.js'
import { type OAuth2Credentials, oauth2 } from '../../../src/protocols/oauth2/index.js'
import { apiServer } from '../../helpers/api-server.js'

const agents: Agent[] = []
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.close()))
})

/** An API on 127.0.0.1 that is its own OAuth2 token endpoint (client credentials) and echoes `/whoami`. */
async function oauthApi() {
  const server = await apiServer((req, res) => {
    if (req.url === '/oauth/token') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ access_token: 'oauth-access-1', token_type: 'Bearer', expires_in: 300 }))
      return true
    }
    if (req.url === '/whoami') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ authorization: req.headers.authorization ?? null }))
      return true
    }
    return false
  })
  const client = createSessionFetch<OAuth2Credentials>({
    baseURL: server.url,
    protocol: oauth2({ tokenEndpoint: `${server.url}/oauth/token`, clientId: 'svc', clientSecret: 's3cret' }),
    credentials: () => ({ grant: 'client_credentials' }),
  })
  return { server, client }
}

describe('the adapters take any createSessionFetch() client: SessionFetch<unknown>', () => {
  test('a Plantly client and an oauth2() client both fit the parameter, anything else does not', () => {
    const plantly = createSessionFetch({ baseURL: 'https://api.plantly.test' })
    const service = createSessionFetch<OAuth2Credentials>({
      baseURL: 'https://api.example.test',
      protocol: oauth2({ tokenEndpoint: 'https://auth.example.test/token', clientId: 'svc' }),
    })
    expectTypeOf(plantly).toExtend<Parameters<typeof attachSession>[1]>()
    expectTypeOf(service).toExtend<Parameters<typeof attachSession>[1]>()
    expectTypeOf(service).toExtend<Parameters<typeof sessionInterceptor>[0]>()
    expectTypeOf(service).toExtend<Parameters<typeof createSessionOfetch>[0]>()
    expectTypeOf<Parameters<typeof attachSession>[1]>().toEqualTypeOf<SessionFetch<unknown>>()
    expectTypeOf<Parameters<typeof sessionInterceptor>[0]>().toEqualTypeOf<SessionFetch<unknown>>()
    expectTypeOf<Parameters<typeof createSessionOfetch>[0]>().toEqualTypeOf<SessionFetch<unknown>>()

    // An object with a fetch is no client: refused by the type, and at run time by an OptionError naming `session`.
    const lookalike = { fetch: globalThis.fetch }
    // @ts-expect-error not a createSessionFetch() client
    expect(() => attachSession(axios.create(), lookalike)).toThrow(OptionError)
    // @ts-expect-error not a createSessionFetch() client
    expect(() => sessionInterceptor(lookalike)).toThrow(/`session`.*createSessionFetch\(\)/)
    // The ofetch adapter only needs the client's fetch; the type still asks for a client.
    // @ts-expect-error not a createSessionFetch() client
    expect(typeof createSessionOfetch(lookalike)).toBe('function')
  })

  test("an oauth2() client's token reaches its API through axios, undici and ofetch", async () => {
    const { server, client } = await oauthApi()
    const api = axios.create({ baseURL: server.url })
    attachSession(api, client)
    const agent = new Agent()
    agents.push(agent)
    const dispatcher = agent.compose(sessionInterceptor(client))
    const ofetchApi = createSessionOfetch(client)

    const viaAxios = (await api.get('/whoami')).data
    const viaUndici = await (await request(`${server.url}/whoami`, { dispatcher })).body.json()
    const viaOfetch = await ofetchApi('/whoami')

    for (const answer of [viaAxios, viaUndici, viaOfetch]) {
      expect(answer).toEqual({ authorization: 'Bearer oauth-access-1' })
    }
    expect(server.received.filter((entry) => entry.path === '/oauth/token')).toHaveLength(1)
  })
})

describe('SessionSource, the deprecated name of the parameter type, still works', () => {
  test('it is SessionFetch<unknown>, from session-fetch/axios and session-fetch/undici alike', async () => {
    expectTypeOf<AxiosSessionSource>().toEqualTypeOf<SessionFetch<unknown>>()
    expectTypeOf<UndiciSessionSource>().toEqualTypeOf<SessionFetch<unknown>>()
    const { server, client } = await oauthApi()
    const source: AxiosSessionSource = client
    const api = axios.create({ baseURL: server.url })
    attachSession(api, source)
    expect((await api.get('/whoami')).data).toEqual({ authorization: 'Bearer oauth-access-1' })
    const undiciSource: UndiciSessionSource = client
    expect(typeof sessionInterceptor(undiciSource)).toBe('function')
  })
})
