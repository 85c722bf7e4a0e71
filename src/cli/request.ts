import { readFile } from 'node:fs/promises'
import { CliError, EXIT } from './exit.js'

/** What `api` was asked to send. */
export interface ApiRequest {
  method: string
  headers: Headers
  body: Uint8Array<ArrayBuffer> | string | undefined
}

const METHOD = /^[A-Za-z]+$/

/**
 * Build the request from curl-like flags: `-d` sends a string, `-d @file` a file's bytes (`@-`: stdin); with data
 * and no `-X` the method is POST (as curl does). A JSON body without a `Content-Type` header is sent as
 * `application/json`; a file as `application/octet-stream`.
 */
export async function buildRequest(flags: {
  request?: string | undefined
  data?: string | undefined
  header: string[]
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
      body = source === '-' ? await readStdin() : await readData(source)
      if (!headers.has('content-type')) headers.set('content-type', 'application/octet-stream')
    } else {
      body = flags.data
      if (!headers.has('content-type') && isJson(body)) headers.set('content-type', 'application/json')
    }
  }
  const method = (flags.request ?? (body === undefined ? 'GET' : 'POST')).toUpperCase()
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
    throw new CliError(`-d: a ${method} request cannot have a body (use -X POST, PUT or PATCH)`, EXIT.usage)
  }
  return { method, headers, body }
}

async function readData(file: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return new Uint8Array(await readFile(file))
  } catch (error) {
    const why = (error as { code?: string }).code ?? 'unreadable'
    throw new CliError(`-d @${file}: cannot read the file (${why})`, EXIT.usage)
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
