import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { CookieSessions } from '../../src/server/index.js'
import { familyOf, userCredentials } from './users-ledger.js'

/**
 * A server-rendered app's routes over cookieSessions, as node:http handlers (the session opened from the
 * IncomingMessage, its cookies appended to the response):
 *   POST /login/<i>   logs user i in                     → { family }
 *   GET  /call/<n>    session.fetch(`/u/app/<n>`)        → { status } (or { error })
 *   POST /logout      session.logout()                   → { ok }
 *   GET  /session     session.getSession()               → { family }
 */
export function cookieAppHandler(sessions: CookieSessions) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const session = sessions.open(req)
    const [, route, arg] = (req.url ?? '/').split('/')
    let status = 200
    let body: unknown
    try {
      if (route === 'login') {
        const loggedIn = await session.login(userCredentials(Number(arg)))
        body = { family: familyOf(loggedIn.access_token) }
      } else if (route === 'call') {
        const response = await session.fetch(`/u/app/${arg}`)
        await response.arrayBuffer()
        body = { status: response.status }
      } else if (route === 'logout') {
        await session.logout()
        body = { ok: true }
      } else if (route === 'session') {
        body = { family: familyOf((await session.getSession())?.access_token) }
      } else {
        status = 404
        body = { error: 'no such route' }
      }
    } catch (error) {
      body = { error: (error as Error).name }
    }
    const headers: [string, string][] = [['content-type', 'application/json']]
    for (const cookie of session.cookies()) headers.push(['set-cookie', cookie])
    res.writeHead(status, headers.flat() as unknown as string[])
    res.end(JSON.stringify(body))
  }
}

export interface AppAnswer {
  status: number
  body: Record<string, unknown>
  setCookies: string[]
}

/** Call `url` + `path` with `cookie` as the Cookie header, as a browser would. */
export async function callApp(
  url: string,
  path: string,
  cookie = '',
  method: 'GET' | 'POST' = 'GET',
): Promise<AppAnswer> {
  const response = await fetch(`${url}${path}`, { method, headers: cookie ? { cookie } : {} })
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    setCookies: response.headers.getSetCookie(),
  }
}

/** A browser's cookies for one site: what Set-Cookie put there, as a Cookie header. */
export class CookieJar {
  readonly cookies = new Map<string, string>()
  apply(setCookies: readonly string[]): this {
    for (const line of setCookies) {
      const [pair = ''] = line.split(';')
      const at = pair.indexOf('=')
      const name = pair.slice(0, at)
      if (/;\s*Max-Age=0/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, pair.slice(at + 1))
    }
    return this
  }
  get header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
  copy(): CookieJar {
    const jar = new CookieJar()
    for (const [name, value] of this.cookies) jar.cookies.set(name, value)
    return jar
  }
}

/** Start the app on 127.0.0.1 (closed by the returned function). */
export async function startCookieApp(sessions: CookieSessions): Promise<{ url: string; server: Server }> {
  const server = createServer(cookieAppHandler(sessions))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}
