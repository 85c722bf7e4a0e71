import { OptionError } from '../errors/option-error.js'

const MAX_TIMEOUT = 2_147_483_647 // setTimeout's limit

/** An http(s) URL without credentials, query or fragment. */
export function parseBaseURL(value: unknown, option: string): URL {
  return parseHttpURL(value, option, false)
}

/**
 * An absolute http(s) URL without credentials or fragment; a query only where `allowQuery` (RFC 6749 §3.2).
 * Messages never echo the URL: it may carry a password (`user:password@`) or a key in its query.
 */
export function parseHttpURL(value: unknown, option: string, allowQuery: boolean): URL {
  if (typeof value !== 'string' && !(value instanceof URL)) {
    throw new OptionError(option, `expected an absolute http(s) URL string, got ${describe(value)}`)
  }
  let url: URL
  try {
    url = new URL(String(value))
  } catch {
    throw new OptionError(option, 'is not an absolute URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    // The scheme is not named either: `user:password@host` parses as the scheme `user:`.
    throw new OptionError(option, 'expected an http: or https: URL')
  }
  if (url.username || url.password) throw new OptionError(option, 'must not contain credentials')
  if (url.hash || (url.search && !allowQuery)) {
    throw new OptionError(option, `must not contain ${allowQuery ? 'a fragment' : 'a query or a fragment'}`)
  }
  return url
}

/** Messages name an entry by its index, never by its text: it may carry a password or a query. */
export function parseOrigins(value: unknown): string[] {
  if (!Array.isArray(value)) {
    throw new OptionError('allowedOrigins', `expected an array of origins, got ${describe(value, false)}`)
  }
  return value.map((entry: unknown, i) => {
    const text = typeof entry === 'string' ? entry : ''
    const refuse = (problem: string) => new OptionError('allowedOrigins', `entry ${i} ${problem}`)
    if (text.includes('*')) throw refuse('has a wildcard: list each origin')
    let url: URL
    try {
      url = new URL(text)
    } catch {
      throw refuse('is not an origin like "https://host:port"')
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw refuse('is not an http: or https: origin')
    }
    if (url.username || url.password || url.search || url.hash || url.pathname !== '/') {
      throw refuse(`has more than an origin (${url.origin}): no paths, queries or credentials`)
    }
    return url.origin
  })
}

export function parseDuration(value: unknown, option: string, positive: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw new OptionError(
      option,
      `expected a finite number of milliseconds ${positive ? '> 0' : '>= 0'}, got ${describe(value)}`,
    )
  }
  if (value > MAX_TIMEOUT) throw new OptionError(option, `must be at most ${MAX_TIMEOUT} ms, got ${value}`)
  return value
}

/** A duration > 0 in ms (named for messages). */
export function parsePositiveDuration(value: unknown, option: string): number {
  return parseDuration(value, option, true)
}

/** A whole number >= 0 (named for messages). */
export function parseNonNegativeInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
    throw new OptionError(option, `expected a whole number from 0 to 100, got ${describe(value)}`)
  }
  return value
}

/**
 * A value, for a message: a number, the start of a string, or what it is. `quote: false` for an option where a
 * string would be a mistake that may carry a secret (a password given as `credentials`, a key): only "a string".
 */
export function describe(value: unknown, quote = true): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value)
  if (typeof value === 'string') {
    return quote ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value) : 'a string'
  }
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}

/**
 * Refuse an option the factory does not know (`baseUrl` for `baseURL`): a misspelt option would otherwise be
 * ignored silently. The OptionError names it and the closest known option. `known` lists every option (the
 * callers check it against their options type, so a new option cannot be forgotten).
 */
export function rejectUnknownOptions(options: object, known: Record<string, true>): void {
  for (const option of Object.keys(options)) {
    if (Object.hasOwn(known, option)) continue
    let closest = ''
    let best = Infinity
    for (const name of Object.keys(known)) {
      const distance = editDistance(option.toLowerCase(), name.toLowerCase())
      if (distance < best) [closest, best] = [name, distance]
    }
    throw new OptionError(option, `unknown option (the closest known one is \`${closest}\`)`)
  }
}

/** Levenshtein distance: the fewest single-character insertions, deletions and substitutions from a to b. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current[j] = Math.min(substitution, (previous[j] as number) + 1, (current[j - 1] as number) + 1)
    }
    previous = current
  }
  return previous[b.length] as number
}
