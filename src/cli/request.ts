import { readFile } from 'node:fs/promises'
import { CliError, EXIT } from './exit.js'

/** What `api` was asked to send. */
export interface ApiRequest {
  method: string
  headers: Headers
  body: Uint8Array<ArrayBuffer> | string | undefined
  /** Query parameters to add to the path (fields of a GET or HEAD). */
  query: URLSearchParams
}

type Json = string | number | boolean | null

const METHOD = /^[A-Za-z]+$/

/**
 * Build the request from curl-like flags: `-d` sends a string, `-d @file` a file's bytes (`@-`: stdin); with data
 * and no `-X` the method is POST (as curl does). A JSON body without a `Content-Type` header is sent as
 * `application/json`; a file as `application/octet-stream`. Fields as `gh api` reads them (`-f key=value` a
 * string, `-F key=value` typed): query parameters of a GET or HEAD, else the members of a JSON object body; with
 * fields and no `-X` the method is POST (as gh does).
 */
export async function buildRequest(flags: {
  request?: string | undefined
  data?: string | undefined
  header: string[]
  'raw-field'?: string[]
  field?: string[]
}): Promise<ApiRequest> {
  const headers = new Headers()
  for (const line of flags.header) {
    const colon = line.indexOf(':')
    const name = colon > 0 ? line.slice(0, colon).trim() : ''
    try {
      if (!name) throw new Error('no name')
      headers.append(name, line.slice(colon + 1).trim())
    } catch {
      // The value is not echoed: it is often a credential (`-H "Authorization: Bearer …"`).
      const which = /^[!#-'*+.^-`|~\w-]+$/.test(name) ? ` (header ${name})` : ''
      throw new CliError(`-H: expected "Name: value" with a valid name and value${which}`, EXIT.usage)
    }
  }
  if (flags.request !== undefined && !METHOD.test(flags.request)) {
    throw new CliError(`-X: expected an HTTP method, got ${JSON.stringify(flags.request)}`, EXIT.usage)
  }
  let body: Uint8Array<ArrayBuffer> | string | undefined
  if (flags.data !== undefined) {
    if (flags.data.startsWith('@')) {
      const source = flags.data.slice(1)
      body = source === '-' ? await readStdin() : await readData(source, `-d @${source}`)
      if (!headers.has('content-type')) headers.set('content-type', 'application/octet-stream')
    } else {
      body = flags.data
      if (!headers.has('content-type') && isJson(body)) headers.set('content-type', 'application/json')
    }
  }
  const fields = await readFields(flags['raw-field'] ?? [], flags.field ?? [])
  if (fields.length > 0 && body !== undefined) {
    throw new CliError('-d and -f/-F: give the body one way (fields make a JSON body)', EXIT.usage)
  }
  const method = (flags.request ?? (body === undefined && fields.length === 0 ? 'GET' : 'POST')).toUpperCase()
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
    throw new CliError(`-d: a ${method} request cannot have a body (use -X POST, PUT or PATCH)`, EXIT.usage)
  }
  const query = new URLSearchParams()
  if (fields.length > 0 && (method === 'GET' || method === 'HEAD')) {
    for (const [key, value] of fields) query.append(key, value === null ? '' : String(value))
  } else if (fields.length > 0) {
    body = JSON.stringify(nest(fields))
    if (!headers.has('content-type')) headers.set('content-type', 'application/json')
  }
  return { method, headers, body, query }
}

/**
 * `-f key=value` (the value as written) and `-F key=value` (`true`, `false`, `null` and numbers as JSON, `@file`
 * a file's text, `@-` stdin's), in the order given: the `-f`s, then the `-F`s. An error names the option and the
 * key, never the value.
 */
async function readFields(raw: string[], typed: string[]): Promise<[string, Json][]> {
  const split = (option: string, word: string): [string, string] => {
    const equals = word.indexOf('=')
    if (equals <= 0) throw new CliError(`${option}: expected key=value`, EXIT.usage)
    return [word.slice(0, equals), word.slice(equals + 1)]
  }
  const fields: [string, Json][] = raw.map((word) => split('-f', word))
  for (const word of typed) {
    const [key, value] = split('-F', word)
    fields.push([key, await typedValue(key, value)])
  }
  return fields
}

type Tree = Json | Tree[] | { [key: string]: Tree }

// `name`, then any number of `[key]` or `[]`: gh's way of writing a nested member.
const KEY = /^([^[\]]+)((?:\[[^[\]]*\])*)$/

/**
 * The JSON object fields make, as `gh api` builds it: `a[b]=1` → `{"a":{"b":1}}`, `a[]=1 a[]=2` →
 * `{"a":[1,2]}`. A key used both as a value and as an object or array is a usage error naming it.
 */
function nest(fields: [string, Json][]): Tree {
  // Null-prototype objects: a key like `__proto__` is a member like any other.
  const root: Record<string, Tree> = Object.create(null)
  for (const [key, value] of fields) {
    const match = KEY.exec(key)
    const path = match
      ? [match[1] as string, ...[...(match[2] ?? '').matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1] as string)]
      : [key]
    let parent: Record<string, Tree> | Tree[] = root
    for (const [index, segment] of path.entries()) {
      const last = index === path.length - 1
      const next = path[index + 1]
      const fresh = (): Tree => (last ? value : next === '' ? [] : Object.create(null))
      if (Array.isArray(parent)) {
        if (segment !== '') throw conflict(key)
        const child = fresh()
        parent.push(child)
        if (!last) parent = child as Record<string, Tree> | Tree[]
        continue
      }
      if (segment === '') throw conflict(key)
      const existing = parent[segment]
      if (last) {
        if (existing !== undefined) throw conflict(key)
        parent[segment] = value
      } else {
        const child = existing ?? fresh()
        if (child === null || typeof child !== 'object' || Array.isArray(child) !== (next === ''))
          throw conflict(key)
        parent[segment] = child
        parent = child as Record<string, Tree> | Tree[]
      }
    }
  }
  return root
}

function conflict(key: string): CliError {
  return new CliError(
    `-f/-F ${key.slice(0, 60)}: the field is given twice, or as both a value and an object or array`,
    EXIT.usage,
  )
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/

async function typedValue(key: string, value: string): Promise<Json> {
  if (value === 'true') return true
  if (value === 'false') return false
  if (value === 'null') return null
  if (NUMBER.test(value)) {
    const number = Number(value)
    // A whole number JSON would round (past 2^53) stays the string it was: its digits are what was meant.
    if (Number.isFinite(number) && (!Number.isInteger(number) || Number.isSafeInteger(number))) return number
    return value
  }
  if (value.startsWith('@')) {
    const source = value.slice(1)
    const bytes = source === '-' ? await readStdin() : await readData(source, `-F ${key}=@${source}`)
    return new TextDecoder().decode(bytes)
  }
  return value
}

async function readData(file: string, option: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return new Uint8Array(await readFile(file))
  } catch (error) {
    const why = (error as { code?: string }).code ?? 'unreadable'
    throw new CliError(`${option}: cannot read the file (${why})`, EXIT.usage)
  }
}

async function readStdin(): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return new Uint8Array(Buffer.concat(chunks))
}

function isJson(text: string): boolean {
  const start = text.trimStart()[0]
  if (start !== '{' && start !== '[') return false
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** The body as it goes to stdout: JSON pretty-printed for a person at a terminal, the bytes as they came otherwise. */
export function formatBody(
  bytes: Uint8Array,
  contentType: string | null,
  pretty: boolean,
): Uint8Array | string {
  if (!pretty || bytes.byteLength === 0 || !/\bjson\b/i.test(contentType ?? '')) return bytes
  try {
    return `${JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)), null, 2)}\n`
  } catch {
    return bytes
  }
}
