import { describe } from '../core/validate.js'
import { OptionError } from '../errors/option-error.js'

/** The session cookie's attributes (`cookieSessions({ cookie })`). */
export interface CookieOptions {
  /** The cookie's name; a value over 4 KB goes out as `name.0`, `name.1`, … */
  name: string
  /** @default '/' */
  path?: string
  /** @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none'
  /**
   * Send it over HTTPS only. Leave it on in production; `false` is for plain-HTTP development.
   * @default true
   */
  secure?: boolean
  /** The `Domain` attribute; without it the cookie goes to this host only. @default none */
  domain?: string
  /**
   * How long the browser keeps the cookie, in seconds (and how long a sealed cookie opens). Without it the cookie
   * ends with the browser session. @default none
   */
  maxAge?: number
}

/** A request as `open()` takes it: a Web `Request`, or anything with Node-style `headers` (IncomingMessage). */
export type RequestLike =
  | { headers: { get(name: string): string | null } }
  | { headers: Record<string, string | string[] | undefined> }

export interface ResolvedCookie {
  name: string
  /** The attributes after the value, starting with `; Path=`. */
  attributes: string
  /** The attributes of a clearing cookie. */
  clearing: string
  maxAge: number | undefined
}

// RFC 6265 §4.1.1: a cookie name is a token; the value of ours is base64url and dots.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const ATTRIBUTE = /^[\x21-\x3a\x3c-\x7e]+$/ // printable, no space and no `;`
// Browsers refuse a cookie whose name, value and attributes pass 4096 bytes.
const COOKIE_BYTES = 4096
const MAX_CHUNKS = 10

export function resolveCookie(value: unknown): ResolvedCookie {
  if (typeof value !== 'object' || value === null) {
    throw new OptionError('cookie', `expected { name, path, sameSite, secure }, got ${describe(value)}`)
  }
  const given = value as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (!['name', 'path', 'sameSite', 'secure', 'domain', 'maxAge'].includes(key)) {
      throw new OptionError(`cookie.${key}`, 'unknown cookie attribute')
    }
  }
  const { name, path = '/', sameSite = 'lax', secure = true, domain, maxAge } = given
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    throw new OptionError(
      'cookie.name',
      `expected a cookie name (letters, digits, -_.), got ${describe(name)}`,
    )
  }
  if (typeof path !== 'string' || !path.startsWith('/') || !ATTRIBUTE.test(path)) {
    throw new OptionError('cookie.path', `expected a path starting with /, got ${describe(path)}`)
  }
  if (sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') {
    throw new OptionError('cookie.sameSite', `expected 'lax', 'strict' or 'none', got ${describe(sameSite)}`)
  }
  if (typeof secure !== 'boolean') {
    throw new OptionError('cookie.secure', `expected true or false, got ${describe(secure)}`)
  }
  if (sameSite === 'none' && !secure) {
    throw new OptionError('cookie.sameSite', "'none' needs `secure: true` (browsers refuse it otherwise)")
  }
  if (domain !== undefined && (typeof domain !== 'string' || !ATTRIBUTE.test(domain))) {
    throw new OptionError('cookie.domain', `expected a domain name, got ${describe(domain)}`)
  }
  if (maxAge !== undefined && (typeof maxAge !== 'number' || !Number.isSafeInteger(maxAge) || maxAge <= 0)) {
    throw new OptionError('cookie.maxAge', `expected a whole number of seconds > 0, got ${describe(maxAge)}`)
  }
  const site = sameSite === 'lax' ? 'Lax' : sameSite === 'strict' ? 'Strict' : 'None'
  const common = `; Path=${path}${domain ? `; Domain=${domain}` : ''}; HttpOnly${secure ? '; Secure' : ''}; SameSite=${site}`
  return {
    name,
    attributes: `${common}${maxAge ? `; Max-Age=${maxAge}` : ''}`,
    clearing: `${common}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`,
    maxAge: maxAge as number | undefined,
  }
}

/** The request's `Cookie` header, from a Web Request, a Headers or Node's headers object. */
function cookieHeader(request: RequestLike): string {
  const headers = (request as { headers?: unknown })?.headers as
    | { get?: (name: string) => string | null }
    | Record<string, unknown>
    | undefined
  if (!headers || typeof headers !== 'object') return ''
  if (typeof headers.get === 'function')
    return (headers.get as (name: string) => string | null)('cookie') ?? ''
  const value = (headers as Record<string, unknown>).cookie
  if (Array.isArray(value)) return value.join('; ')
  return typeof value === 'string' ? value : ''
}

/** What the request carried of our cookie: its value (joined from its chunks) and every name it came under. */
export interface CarriedCookie {
  value: string | undefined
  names: string[]
}

export function readCookie(request: RequestLike, name: string): CarriedCookie {
  const jar = new Map<string, string>()
  for (const pair of cookieHeader(request).split(';')) {
    const at = pair.indexOf('=')
    if (at === -1) continue
    const key = pair.slice(0, at).trim()
    if ((key === name || key.startsWith(`${name}.`)) && !jar.has(key)) jar.set(key, pair.slice(at + 1).trim())
  }
  const names = [...jar.keys()]
  const single = jar.get(name)
  if (single !== undefined) return { value: single, names }
  if (!jar.has(`${name}.0`)) return { value: undefined, names }
  let value = ''
  for (let i = 0; i < MAX_CHUNKS && jar.has(`${name}.${i}`); i++) value += jar.get(`${name}.${i}`)
  return { value, names }
}

/** Set-Cookie values that put `value` in the browser (split when over 4 KB) and clear what it replaces. */
export function setCookies(cookie: ResolvedCookie, value: string, carried: readonly string[]): string[] {
  const { name, attributes } = cookie
  const whole = `${name}=${value}${attributes}`
  const out: string[] = []
  const used = new Set<string>()
  if (whole.length <= COOKIE_BYTES) {
    out.push(whole)
    used.add(name)
  } else {
    const room = COOKIE_BYTES - `${name}.${MAX_CHUNKS}=`.length - attributes.length
    const count = Math.ceil(value.length / room)
    if (count > MAX_CHUNKS) throw new Error(`The sealed session needs more than ${MAX_CHUNKS} cookies`)
    for (let i = 0; i < count; i++) {
      out.push(`${name}.${i}=${value.slice(i * room, (i + 1) * room)}${attributes}`)
      used.add(`${name}.${i}`)
    }
  }
  for (const old of carried) if (!used.has(old)) out.push(`${old}=${cookie.clearing}`)
  return out
}

/** Set-Cookie values that clear the cookie (and every chunk the request carried). */
export function clearCookies(cookie: ResolvedCookie, carried: readonly string[]): string[] {
  const names = new Set([cookie.name, ...carried])
  return [...names].map((name) => `${name}=${cookie.clearing}`)
}
