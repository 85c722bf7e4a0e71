import { describe, expect, test } from 'vitest'
import { ClosedError, memoryStore, OptionError, type SessionStore } from '../../src/index.js'
import { sessionPool } from '../../src/server/index.js'
import { mockServer } from '../helpers/mock-server.js'
import {
  crossUserRequests,
  familyOf,
  manyUsers,
  userCredentials,
  userRequests,
} from '../helpers/users-ledger.js'

// sessionPool over real HTTP against the mock with strict rotation (a rotated-out refresh token presented again
// is reuse, which revokes the session): one client per user, one refresh per user, no token on another's request.

async function logIn(pool: ReturnType<typeof sessionPool>, users: number) {
  const families = new Map<string, number>()
  await Promise.all(
    Array.from({ length: users }, async (_, i) => {
      const session = await pool.for(`u${i}`).login(userCredentials(i))
      families.set(`u${i}`, familyOf(session.access_token) as number)
    }),
  )
  return families
}

function storm(pool: ReturnType<typeof sessionPool>, users: number, perUser: number) {
  return Promise.all(
    Array.from({ length: users * perUser }, (_, n) => {
      const user = `u${n % users}`
      return pool
        .for(user)
        .fetch(`/u/${user}/${n}`)
        .then(
          (response) => response.status,
          (error: Error) => error.name,
        )
    }),
  )
}

describe('sessionPool', () => {
  test('per-user storms across an expiry: one refresh per user, 0 reuse, every request 200 with its own user’s token', async () => {
    const server = await mockServer({ users: manyUsers(10) })
    const pool = sessionPool({ baseURL: server.url })
    const families = await logIn(pool, 10)
    expect(new Set(families.values()).size).toBe(10)

    server.mock.expireAccessTokens()
    const statuses = await storm(pool, 10, 20)

    expect(statuses).toEqual(Array(200).fill(200))
    expect(server.counters.refreshes).toBe(10)
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.refreshRejected).toBe(0)
    expect(userRequests(server)).toBeGreaterThanOrEqual(200)
    expect(crossUserRequests(server, families)).toEqual([])
    for (let i = 0; i < 10; i++) expect(pool.for(`u${i}`).stats().refreshes).toBe(1)
    await pool.close()
  })

  test('for(key) gives the same object while the key is live, another key another one', async () => {
    const server = await mockServer()
    const pool = sessionPool({ baseURL: server.url })
    expect(pool.for('alice')).toBe(pool.for('alice'))
    expect(pool.for('alice')).not.toBe(pool.for('bob'))
    expect(pool.size).toBe(2)
    await pool.close()
  })

  test('eviction: past `max` the least recently used client goes, and comes back from its store with nothing lost', async () => {
    const server = await mockServer({ users: manyUsers(6) })
    const pool = sessionPool({ baseURL: server.url, max: 2 })
    const families = new Map<string, number>()
    const tokens = new Map<string, string>()
    for (let i = 0; i < 6; i++) {
      const session = await pool.for(`u${i}`).login(userCredentials(i))
      families.set(`u${i}`, familyOf(session.access_token) as number)
      tokens.set(`u${i}`, session.access_token)
    }
    expect(pool.size).toBe(2)
    const first = pool.for('u0') // evicted long ago: re-created from its in-memory store
    expect(await first.getSession()).toMatchObject({ access_token: tokens.get('u0') })
    expect((await first.fetch('/u/u0/again')).status).toBe(200)
    expect(server.counters.logins).toBe(6) // nobody logged in again

    // Across an expiry, with every user's client evicted and re-created many times over: one refresh each.
    server.mock.expireAccessTokens()
    const statuses = await storm(pool, 6, 10)
    expect(statuses).toEqual(Array(60).fill(200))
    expect(server.counters.refreshes).toBe(6)
    expect(server.counters.reuseDetected).toBe(0)
    expect(crossUserRequests(server, families)).toEqual([])
    expect(pool.size).toBeLessThanOrEqual(6) // busy clients are not evicted; idle ones are
    await pool.close()
  })

  test('eviction takes the least recently used key: one used since stays', async () => {
    const server = await mockServer()
    const created: string[] = []
    const pool = sessionPool({
      baseURL: server.url,
      max: 2,
      store: (key) => {
        created.push(key)
        return memoryStore()
      },
    })
    const a = pool.for('a')
    pool.for('b')
    await a.getSession() // a is used after b
    pool.for('c') // evicts b
    expect(pool.for('a')).toBe(a)
    expect(created).toEqual(['a', 'b', 'c'])
    pool.for('b') // evicted: it comes back as a new client
    expect(created).toEqual(['a', 'b', 'c', 'b'])
    expect(pool.size).toBe(2)
    await pool.close()
  })

  test('a session object held across its eviction keeps working on the re-created client', async () => {
    const server = await mockServer({ users: manyUsers(3) })
    const pool = sessionPool({ baseURL: server.url, max: 1 })
    const held = pool.for('u0')
    const session = await held.login(userCredentials(0))
    await pool.for('u1').login(userCredentials(1)) // evicts u0
    await pool.for('u2').login(userCredentials(2)) // evicts u1
    const response = await held.fetch('/u/u0/held')
    expect(response.status).toBe(200)
    expect(familyOf(server.log.at(-1)?.token)).toBe(familyOf(session.access_token))
    await pool.close()
  })

  test('a store per key from `store`: closed when the client goes, asked again when the key comes back', async () => {
    const server = await mockServer({ users: manyUsers(2) })
    const stores = new Map<string, SessionStore>()
    const made: string[] = []
    const closed: string[] = []
    const pool = sessionPool({
      baseURL: server.url,
      max: 1,
      store: (key) => {
        made.push(key)
        const kept = stores.get(key) ?? memoryStore()
        stores.set(key, kept)
        return Object.assign(Object.create(kept), { close: () => closed.push(key) })
      },
    })
    await pool.for('u0').login(userCredentials(0))
    await pool.for('u1').login(userCredentials(1))
    await new Promise((resolve) => setTimeout(resolve, 10)) // the evicted client drains, then its store closes
    expect(closed).toEqual(['u0'])
    expect((await pool.for('u0').fetch('/u/u0/back')).status).toBe(200)
    expect(made).toEqual(['u0', 'u1', 'u0'])
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(closed).toEqual(['u0', 'u1']) // u0 came back and evicted u1
    await pool.close()
    expect(closed).toEqual(['u0', 'u1', 'u0'])
  })

  test('delete(key): closes the key’s client and forgets its in-memory session', async () => {
    const server = await mockServer({ users: manyUsers(2) })
    const pool = sessionPool({ baseURL: server.url })
    const alice = pool.for('u0')
    await alice.login(userCredentials(0))
    await pool.for('u1').login(userCredentials(1))
    await pool.delete('u0')
    expect(pool.size).toBe(1)
    const again = pool.for('u0')
    expect(again).not.toBe(alice)
    expect(await again.getSession()).toBeUndefined()
    const response = await again.fetch('/u/u0/forgotten')
    expect(response.status).toBe(401)
    expect(server.log.at(-1)?.token).toBeUndefined() // sent without a token: none of another user's
    expect(await pool.for('u1').getSession()).toBeDefined()
    await pool.close()
  })

  test('close(): drains every live client (a refresh under way lands and is stored), then refuses new calls', async () => {
    const server = await mockServer({ users: manyUsers(3), refreshLatencyMs: 200 })
    const stores = new Map<string, SessionStore>()
    const pool = sessionPool({
      baseURL: server.url,
      store: (key) => {
        const store = memoryStore()
        stores.set(key, store)
        return store
      },
    })
    await logIn(pool, 3)
    const refreshing = [0, 1, 2].map((i) => pool.for(`u${i}`).refresh())
    await new Promise((resolve) => setTimeout(resolve, 50)) // the refreshes are at the server
    await pool.close()
    expect(server.counters.refreshes).toBe(3)
    const refreshed = await Promise.all(refreshing)
    for (let i = 0; i < 3; i++) {
      const stored = await (stores.get(`u${i}`) as SessionStore).read()
      expect(stored.record?.session.access_token).toBe(refreshed[i]?.access_token)
    }
    expect(() => pool.for('u0')).toThrow(ClosedError)
  })

  test('options: each bad one is refused naming it', () => {
    const baseURL = 'https://api.plantly.test'
    const refused = (options: unknown) => {
      try {
        sessionPool(options as Parameters<typeof sessionPool>[0])
      } catch (error) {
        expect(error).toBeInstanceOf(OptionError)
        return (error as OptionError).option
      }
      throw new Error('accepted')
    }
    expect(refused({ baseURL, max: 0 })).toBe('max')
    expect(refused({ baseURL, max: 1.5 })).toBe('max')
    expect(refused({ baseURL, max: '10' })).toBe('max')
    expect(refused({ baseURL, store: memoryStore() })).toBe('store')
    expect(refused({ baseURL, credentials: { email_address: 'a', password: 'b' } })).toBe('credentials')
    expect(refused({ baseURL: 'ftp://x' })).toBe('baseURL')
    expect(refused({ baseURL, refreshWindowMs: -1 })).toBe('refreshWindowMs')
    expect(refused({ baseURL, maxClients: 3 })).toBe('maxClients')
    expect(refused(null)).toBe('options')
    const pool = sessionPool({ baseURL })
    expect(() => pool.for('')).toThrow(OptionError)
    expect(() => pool.for(42 as unknown as string)).toThrow(/`key`/)
  })

  test('credentials(key): an unattended login per user, with that user’s credentials', async () => {
    const server = await mockServer({ users: manyUsers(3) })
    const asked: string[] = []
    const pool = sessionPool({
      baseURL: server.url,
      credentials: (key) => {
        asked.push(key)
        return userCredentials(Number(key.slice(1)))
      },
    })
    const statuses = await Promise.all(
      [0, 1, 2, 0, 1, 2].map((i, n) =>
        pool
          .for(`u${i}`)
          .fetch(`/u/u${i}/${n}`)
          .then((r) => r.status),
      ),
    )
    expect(statuses).toEqual(Array(6).fill(200))
    expect(asked.sort()).toEqual(['u0', 'u1', 'u2'])
    expect(server.counters.logins).toBe(3)
    const families = new Map(
      await Promise.all(
        [0, 1, 2].map(
          async (i) =>
            [`u${i}`, familyOf((await pool.for(`u${i}`).getSession())?.access_token) as number] as const,
        ),
      ),
    )
    expect(crossUserRequests(server, families)).toEqual([])
    await pool.close()
  })

  test('accessToken(): a valid token per user for what is not a request, one refresh per user across an expiry', async () => {
    const server = await mockServer({ users: manyUsers(3) })
    let skew = 0 // the pool's clock, moved past the tokens' expiry (the server's tokens are still good)
    const pool = sessionPool({ baseURL: server.url, now: () => Date.now() + skew })
    const families = await logIn(pool, 3)
    skew = 61_000
    const tokens = await Promise.all(
      Array.from({ length: 30 }, (_, n) => pool.for(`u${n % 3}`).accessToken()),
    )
    expect(server.counters.refreshes).toBe(3)
    expect(tokens.map(familyOf)).toEqual(tokens.map((_, n) => families.get(`u${n % 3}`)))
    const checks = await Promise.all(
      tokens
        .slice(0, 3)
        .map((token) =>
          fetch(`${server.url}/check`, { headers: { authorization: `Bearer ${token}` } }).then(
            (r) => r.status,
          ),
        ),
    )
    expect(checks).toEqual([200, 200, 200])
    await pool.close()
  })
})
