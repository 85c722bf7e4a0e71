import { describe, expect, test } from 'vitest'
import {
  createSessionFetch,
  memoryStore,
  OptionError,
  plantlySessions,
  type SessionFetchOptions,
  type SessionProtocol,
} from '../src/index.js'
import { oauth2 } from '../src/oauth2/index.js'
import { DEMO_USER, mockServer } from './helpers/mock-server.js'

describe('every protocol names the issuer of its sessions', () => {
  test('Plantly: the Sessions endpoint, however baseURL is spelled', () => {
    expect(plantlySessions({ baseURL: 'https://api.plantly.test' }).issuer).toBe(
      'plantly:https://api.plantly.test/auth/sessions',
    )
    expect(plantlySessions({ baseURL: 'https://API.plantly.test:443/' }).issuer).toBe(
      'plantly:https://api.plantly.test/auth/sessions',
    )
    expect(plantlySessions({ baseURL: 'https://api.plantly.test/v2', path: '/sessions' }).issuer).toBe(
      'plantly:https://api.plantly.test/v2/sessions',
    )
  })

  test('OAuth2: the token endpoint and the client id, never the client secret', () => {
    const protocol = oauth2({
      tokenEndpoint: 'https://auth.example.test/oauth/token?tenant=a',
      clientId: 'billing',
      clientSecret: 'client-secret-value',
    })
    expect(protocol.issuer).toBe('oauth2:https://auth.example.test/oauth/token?tenant=a#billing')
    const other = oauth2({
      tokenEndpoint: 'https://auth.example.test/oauth/token?tenant=a',
      clientId: 'reports',
    })
    expect(other.issuer).not.toBe(protocol.issuer)
  })

  test('a custom protocol without an issuer is refused when the client is created', () => {
    const { issuer: _issuer, ...anonymous } = plantlySessions({ baseURL: 'https://api.plantly.test' })
    for (const issuer of [undefined, '', 42]) {
      const protocol = { ...anonymous, issuer } as unknown as SessionProtocol
      const create = () => createSessionFetch({ baseURL: 'https://api.plantly.test', protocol })
      expect(create).toThrow(OptionError)
      expect(create).toThrow(/`protocol`.*`issuer`/)
    }
    const named: SessionFetchOptions = {
      baseURL: 'https://api.plantly.test',
      protocol: { ...anonymous, issuer: 'custom:plantly-gateway' },
    }
    expect(() => createSessionFetch(named)).not.toThrow()
  })
})

describe('a stored session carries its issuer', () => {
  test('the record written by login names the protocol’s issuer', async () => {
    const server = await mockServer()
    const store = memoryStore()
    const plantly = createSessionFetch({ baseURL: server.url, store })
    await plantly.login(DEMO_USER)
    expect((await store.read()).record?.issuer).toBe(`plantly:${server.url}/auth/sessions`)
  })
})
