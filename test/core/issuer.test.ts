import { describe, expect, test } from 'vitest'
import { toRecord } from '../../src/core/session-record.js'
import {
  createSessionFetch,
  memoryStore,
  OptionError,
  type PlantlyCredentials,
  plantlySessions,
  type Session,
  type SessionFetchOptions,
  type SessionProtocol,
  type SessionStore,
  StoreError,
} from '../../src/index.js'
import { oauth2 } from '../../src/protocols/oauth2/index.js'
import { PlantlyMock } from '../../src/testing/mock/index.js'
import {
  DEMO_USER,
  expectForeignIssuerRefused,
  mockServer,
  type ReceivedRequest,
  recordRequests,
} from '../helpers/mock-server.js'

describe('every protocol names the issuer of its sessions (sessionIssuer)', () => {
  test('Plantly: the Sessions endpoint, however baseURL is spelled', () => {
    expect(plantlySessions({ baseURL: 'https://api.plantly.test' }).sessionIssuer).toBe(
      'plantly:https://api.plantly.test/auth/sessions',
    )
    expect(plantlySessions({ baseURL: 'https://API.plantly.test:443/' }).sessionIssuer).toBe(
      'plantly:https://api.plantly.test/auth/sessions',
    )
    expect(plantlySessions({ baseURL: 'https://api.plantly.test/v2', path: '/sessions' }).sessionIssuer).toBe(
      'plantly:https://api.plantly.test/v2/sessions',
    )
  })

  test('OAuth2: the token endpoint and the client id, never the client secret', () => {
    const protocol = oauth2({
      tokenEndpoint: 'https://auth.example.test/oauth/token?tenant=a',
      clientId: 'billing',
      clientSecret: 'client-secret-value',
    })
    expect(protocol.sessionIssuer).toBe('oauth2:https://auth.example.test/oauth/token?tenant=a#billing')
    const other = oauth2({
      tokenEndpoint: 'https://auth.example.test/oauth/token?tenant=a',
      clientId: 'reports',
    })
    expect(other.sessionIssuer).not.toBe(protocol.sessionIssuer)
  })

  test('OAuth2 with discovery: the OAuth issuer option only gives the session issuer its endpoint part', () => {
    const protocol = oauth2({ issuer: 'https://auth.example.test', clientId: 'billing' })
    expect(protocol.sessionIssuer).toBe('oauth2:https://auth.example.test#billing')
  })

  test('a custom protocol without a sessionIssuer is refused when the client is created', () => {
    const {
      sessionIssuer: _sessionIssuer,
      issuer: _issuer,
      ...anonymous
    } = plantlySessions({ baseURL: 'https://api.plantly.test' })
    for (const sessionIssuer of [undefined, '', 42]) {
      const protocol = { ...anonymous, sessionIssuer } as unknown as SessionProtocol
      const create = () => createSessionFetch({ baseURL: 'https://api.plantly.test', protocol })
      expect(create).toThrow(OptionError)
      expect(create).toThrow(/`protocol`.*`sessionIssuer`/)
    }
    const named: SessionFetchOptions = {
      baseURL: 'https://api.plantly.test',
      protocol: { ...anonymous, sessionIssuer: 'custom:plantly-gateway' },
    }
    expect(() => createSessionFetch(named)).not.toThrow()
  })
})

describe('issuer, the deprecated name of sessionIssuer, still works', () => {
  test('the built-in protocols answer it with their sessionIssuer', () => {
    const plantly = plantlySessions({ baseURL: 'https://api.plantly.test' })
    expect(plantly.issuer).toBe(plantly.sessionIssuer)
    expect(plantly.issuer).toBe('plantly:https://api.plantly.test/auth/sessions')
    const service = oauth2({ tokenEndpoint: 'https://auth.example.test/token', clientId: 'billing' })
    expect(service.issuer).toBe(service.sessionIssuer)
    expect({ ...service }.issuer).toBe('oauth2:https://auth.example.test/token#billing') // a spread copy keeps it
  })

  test('a custom protocol that names only issuer is accepted, and its sessions are bound to it', async () => {
    const server = await mockServer()
    const {
      sessionIssuer: _sessionIssuer,
      issuer: _issuer,
      ...anonymous
    } = plantlySessions({ baseURL: server.url })
    const legacy: SessionProtocol<PlantlyCredentials> = { ...anonymous, issuer: 'custom:legacy-gateway' }
    const store = memoryStore()
    const plantly = createSessionFetch({ baseURL: server.url, protocol: legacy, store })
    await plantly.login(DEMO_USER)
    expect((await store.read()).record?.issuer).toBe('custom:legacy-gateway')
    // The store is bound to it: a client of the same protocol under its new name shares the session.
    const renamed = createSessionFetch({
      baseURL: server.url,
      protocol: { ...anonymous, sessionIssuer: 'custom:legacy-gateway' },
      store,
    })
    expect((await renamed.getSession())?.access_token).toBe((await plantly.getSession())?.access_token)
  })

  test('where a protocol names both, sessionIssuer is the one used', async () => {
    const server = await mockServer()
    const protocol = { ...plantlySessions({ baseURL: server.url }), issuer: 'custom:old-name' }
    const store = memoryStore()
    await createSessionFetch({ baseURL: server.url, protocol, store }).login(DEMO_USER)
    expect((await store.read()).record?.issuer).toBe(`plantly:${server.url}/auth/sessions`)
  })
})

describe('a stored session carries its issuer', () => {
  test('the record written by login names the protocol’s sessionIssuer', async () => {
    const server = await mockServer()
    const store = memoryStore()
    const plantly = createSessionFetch({ baseURL: server.url, store })
    await plantly.login(DEMO_USER)
    expect((await store.read()).record?.issuer).toBe(`plantly:${server.url}/auth/sessions`)
  })
})

describe('memoryStore() serves one issuer: a client of another one is refused when it is created', () => {
  test('two APIs (baseURLs): OptionError naming `store` and both issuers, thrown synchronously', async () => {
    const server = await mockServer()
    const store = memoryStore()
    const a = createSessionFetch({ baseURL: server.url, store })
    const session = await a.login(DEMO_USER)
    let error: unknown
    try {
      createSessionFetch({ baseURL: 'https://other-api.test', store })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(OptionError)
    expect(error).toMatchObject({ option: 'store', code: 'invalid_option' })
    const message = (error as OptionError).message
    expect(message).toMatch(/already holds sessions of another issuer/)
    expect(message).toContain(`plantly:${server.url}/auth/sessions`)
    expect(message).toContain('plantly:https://other-api.test/auth/sessions')
    expect(message).not.toContain(session.access_token)
    expect(message).not.toContain(session.refresh_token)
    expect(await a.getSession()).toEqual(session) // the first client is untouched
  })

  test('before any session exists too, and for two OAuth2 clients of one token endpoint', () => {
    const tokenEndpoint = 'https://auth.example.test/oauth/token'
    const store = memoryStore()
    const protocol = (clientId: string) =>
      oauth2({ tokenEndpoint, clientId, clientSecret: 'client-secret-value' })
    createSessionFetch({ baseURL: 'https://api.example.test', store, protocol: protocol('billing') })
    createSessionFetch({ baseURL: 'https://api.example.test/v2', store, protocol: protocol('billing') })
    const other = () =>
      createSessionFetch({ baseURL: 'https://api.example.test', store, protocol: protocol('reports') })
    expect(other).toThrow(OptionError)
    expect(other).toThrow(`${tokenEndpoint}#billing`)
    expect(other).not.toThrow(/client-secret-value/)
  })

  test('two tenants of one token endpoint (the query differs) are two issuers; the query stays out of the message', () => {
    const store = memoryStore()
    const tenant = (name: string) =>
      oauth2({ tokenEndpoint: `https://auth.example.test/token?tenant=${name}`, clientId: 'app' })
    createSessionFetch({ baseURL: 'https://api.example.test', store, protocol: tenant('acme') })
    const other = () =>
      createSessionFetch({ baseURL: 'https://api.example.test', store, protocol: tenant('initech') })
    expect(other).toThrow(OptionError)
    expect(other).toThrow('https://auth.example.test/token?…#app')
    expect(other).not.toThrow(/acme|initech/)
  })

  test('a client refused for a bad option does not bind the store', () => {
    const store = memoryStore()
    expect(() => createSessionFetch({ baseURL: 'https://a.test', store, refreshTimeoutMs: -1 })).toThrow(
      /refreshTimeoutMs/,
    )
    expect(() => createSessionFetch({ baseURL: 'https://b.test', store })).not.toThrow()
  })
})

/** The requests among `received` that carry either token of `session` anywhere (header, path or body). */
function carrying(received: ReceivedRequest[], session: Session | undefined): ReceivedRequest[] {
  const tokens = [session?.access_token, session?.refresh_token].filter((t): t is string => t !== undefined)
  expect(tokens.length).toBeGreaterThan(0)
  return received.filter((request) =>
    tokens.some((t) => `${request.authorization} ${request.path} ${request.body}`.includes(t)),
  )
}

/** A store that cannot tell at creation who uses it (no `bind`), as a user's own store may be. */
function customStore(): { store: SessionStore; inner: SessionStore } {
  const inner = memoryStore()
  const store: SessionStore = {
    read: () => inner.read(),
    write: (change, version) => inner.write(change, version),
    lock: (fn, options) => inner.lock?.(fn, options) ?? fn(),
    subscribe: (listener) => inner.subscribe?.(listener) ?? (() => undefined),
  }
  return { store, inner }
}

describe('a store holding another issuer’s session: every call of this instance rejects, nothing is sent', () => {
  test('fetch, login, refresh, logout and getSession reject with StoreError; the session stays as it was', async () => {
    const [serverA, serverB] = await Promise.all([mockServer(), mockServer()])
    const atB = recordRequests(serverB)
    const { store } = customStore()
    const a = createSessionFetch({ baseURL: serverA.url, store })
    // With credentials B would log in unattended, and write over A's session, if it got that far.
    const b = createSessionFetch({ baseURL: serverB.url, store, credentials: () => DEMO_USER })
    const sessionA = await a.login(DEMO_USER)
    const before = await store.read()

    await expectForeignIssuerRefused(b, serverA, serverB, atB, sessionA)
    expect(await store.read()).toBe(before)
    const response = await a.fetch('/buyers') // A is untouched
    expect(response.status).toBe(200)
    expect(serverA.log.at(-1)).toMatchObject({ path: '/buyers', token: sessionA.access_token })
    expect(serverA.counters).toMatchObject({ logins: 1, refreshes: 0, logouts: 0 })
  })

  test('an instance that loaded first ignores the other issuer’s login, and works again once it logs out', async () => {
    const [serverA, serverB] = await Promise.all([mockServer(), mockServer()])
    const [atA, atB] = [recordRequests(serverA), recordRequests(serverB)]
    const { store } = customStore()
    const a = createSessionFetch({ baseURL: serverA.url, store })
    const b = createSessionFetch({ baseURL: serverB.url, store })
    const events: string[] = []
    b.on('login', () => events.push('login'))
    b.on('refresh', () => events.push('refresh'))
    expect(await b.getSession()).toBeUndefined() // B has loaded the empty store and listens to it

    const sessionA = await a.login(DEMO_USER)
    await expect(b.fetch('/buyers')).rejects.toBeInstanceOf(StoreError)
    await a.refresh()
    await expect(b.fetch('/buyers')).rejects.toBeInstanceOf(StoreError)
    expect(events).toEqual([]) // A's session is not handed to B's listeners either
    expect(carrying(atB, sessionA)).toEqual([])
    expect(carrying(atB, await a.getSession())).toEqual([])

    await a.logout()
    const sessionB = await b.login(DEMO_USER)
    expect((await b.fetch('/buyers')).status).toBe(200)
    expect(serverB.log.at(-1)).toMatchObject({ token: sessionB.access_token })
    await expect(a.fetch('/buyers')).rejects.toBeInstanceOf(StoreError) // and now the other way round
    expect(carrying(atA, sessionB)).toEqual([])
  })

  test('a login that was under way when the other issuer’s session arrived does not write over it', async () => {
    const [serverA, serverB] = await Promise.all([mockServer(), mockServer()])
    const { store } = customStore()
    let release = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let answered = () => {}
    const arrived = new Promise<void>((resolve) => {
      answered = resolve
    })
    // B's transport holds the answer to its login until A has logged in.
    const fetchB: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      if (init?.method === 'POST') {
        answered()
        await held
      }
      return response
    }
    const a = createSessionFetch({ baseURL: serverA.url, store })
    const b = createSessionFetch({ baseURL: serverB.url, store, fetch: fetchB })
    const loginB = b.login(DEMO_USER)
    await arrived
    const sessionA = await a.login(DEMO_USER)
    release()

    await expect(loginB).rejects.toBeInstanceOf(StoreError)
    expect((await store.read()).record?.session).toEqual(sessionA)
    expect(await a.getSession()).toEqual(sessionA)
  })

  test('a session stored without an issuer (by an earlier version) is never sent; a login replaces it', async () => {
    const server = await mockServer()
    const received = recordRequests(server)
    const { store } = customStore()
    const legacy = await new PlantlyMock().issueSession()
    await store.write(
      { record: toRecord({ session: legacy }, Date.now()), reason: 'login', writer: 'old' },
      0,
    )

    const bare = createSessionFetch({ baseURL: server.url, store })
    expect(await bare.getSession()).toBeUndefined()
    expect((await bare.fetch('/buyers')).status).toBe(401) // sent without a token: there is no session
    const unattended = createSessionFetch({ baseURL: server.url, store, credentials: () => DEMO_USER })
    expect((await unattended.fetch('/buyers')).status).toBe(200)

    expect(carrying(received, legacy)).toEqual([])
    expect(server.counters.logins).toBe(1)
    expect((await store.read()).record?.issuer).toBe(`plantly:${server.url}/auth/sessions`)
  })
})

describe('instances with the same issuer on one store still share one session', () => {
  test('one login, one refresh for both, however baseURL is spelled', async () => {
    const server = await mockServer()
    const store = memoryStore()
    const a = createSessionFetch({ baseURL: server.url, store })
    const b = createSessionFetch({ baseURL: `${server.url}/`, store })
    const session = await a.login(DEMO_USER)
    expect(await b.getSession()).toEqual(session)

    server.mock.expireAccessTokens()
    const responses = await Promise.all([a, b, a, b].map((client) => client.fetch('/buyers')))
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200])
    expect(server.counters).toMatchObject({ logins: 1, refreshes: 1 })
    expect(await b.getSession()).toEqual(await a.getSession())
  })
})
