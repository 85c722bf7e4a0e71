// The app's one `cookieSessions`: the browser carries its Plantly session in a sealed, HttpOnly cookie. With
// REDIS_URL, the sessions live in Redis (the cookie holds only their id), so that every process serving the app
// makes one refresh per expiry between them.
import { createClient } from 'redis'
import { redisStore } from 'session-fetch/redis'
import { type CookieSessions, cookieSessions } from 'session-fetch/server'

export const COOKIE = 'plantly_session'

function env(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

async function create(): Promise<CookieSessions> {
  const options = {
    baseURL: env('PLANTLY_API_URL'),
    secrets: [env('SESSION_SECRET')],
    cookie: { name: COOKIE, path: '/', sameSite: 'lax', secure: true },
  } as const
  const url = process.env.REDIS_URL
  if (!url) return cookieSessions(options)
  const client = await createClient({ url }).connect()
  const prefix = process.env.PLANTLY_REDIS_PREFIX ?? 'plantly:browser'
  return cookieSessions({ ...options, store: (id) => redisStore({ client, key: `${prefix}:${id}` }) })
}

// One object per process, made on first use (not while `next build` loads the modules): Next.js bundles the
// proxy apart from the pages, and loads this module once for the proxy and again for the pages. They must share
// one `cookieSessions`, or the proxy would never hand out the cookie of a refresh a page made.
const shared = globalThis as typeof globalThis & { plantlySessions?: Promise<CookieSessions> }

export function sessions(): Promise<CookieSessions> {
  shared.plantlySessions ??= create().catch((error: unknown) => {
    delete shared.plantlySessions // try again on the next request
    throw error
  })
  return shared.plantlySessions
}

/** One `Set-Cookie` value, read back: its name and value, and whether it clears the cookie. */
export function parseSetCookie(line: string): { name: string; value: string; clears: boolean } {
  const [pair = '', ...attributes] = line.split(';').map((part) => part.trim())
  const at = pair.indexOf('=')
  const clears = attributes.some((attribute) => /^max-age=0$/i.test(attribute))
  return { name: pair.slice(0, at), value: pair.slice(at + 1), clears }
}
