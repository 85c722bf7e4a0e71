import { writeFile } from 'node:fs/promises'
import { type Context, type Options, sessionsURL, storeKind } from './context.js'
import { formatDuration } from './duration.js'
import { CliError, EXIT, LOGIN_HINT } from './exit.js'
import { buildRequest, formatBody } from './request.js'
import { createTrace, type Hop } from './trace.js'

/** The most a `--retry` waits before one try, whatever Retry-After says (curl's backoff stops at 10 minutes too). */
const MAX_RETRY_WAIT_MS = 600_000

/** `session-fetch api <path>`: one request with the session, the answer on stdout (or `-o FILE`). */
export async function api(context: Context, path: string, options: Options<'api'>): Promise<number> {
  const { io } = context
  const global = context.globals(options)
  if (!path.startsWith('/') && !/^https?:\/\//i.test(path)) {
    throw new CliError(`api: expected a path starting with "/", got ${JSON.stringify(path)}`, EXIT.usage)
  }
  const retries = parseRetries(options.retry)
  const request = await buildRequest(options)
  const { baseURL, profile } = await context.target(global)
  const key = context.keyOf(global, profile)
  // A transport in front of fetch when something must be seen of each hop: -i's status lines, -v's trace.
  const trace =
    options.include || options.verbose
      ? createTrace({
          sessionsURL: sessionsURL(baseURL),
          write: options.verbose ? (line) => io.stderr.write(line) : undefined,
        })
      : undefined
  // -v also traces each session call and wait, as observe() tells them (loaded only then).
  const instrumentation =
    trace && options.verbose ? (await import('../otel/observe.js')).observe(trace.observer) : undefined
  const { plantly, close } = context.client(
    baseURL,
    await context.store(global, key, storeKind(profile)),
    trace?.fetch,
    instrumentation,
  )
  try {
    if (!(await plantly.getSession())) {
      throw new CliError(
        `profile ${JSON.stringify(global.profile)} is not logged in`,
        EXIT.noSession,
        LOGIN_HINT,
      )
    }
    await trace?.watch(plantly)
    const query = request.query.toString()
    const target = query ? `${path}${path.includes('?') ? '&' : '?'}${query}` : path
    let response: Response
    for (let attempt = 0; ; attempt++) {
      trace?.reset()
      response = await plantly.fetch(target, {
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        ...(options['no-follow'] ? { redirect: 'manual' as const } : {}),
      })
      if (attempt >= retries || !retryable(response.status)) break
      const wait = retryAfter(response.headers.get('retry-after')) ?? 1000 * 2 ** attempt
      await response.body?.cancel().catch(() => undefined)
      context.say(
        `session-fetch: HTTP ${response.status}; trying again in ${formatDuration(wait)} (${retries - attempt} ${retries - attempt === 1 ? 'try' : 'tries'} left)\n`,
      )
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
    const bytes = new Uint8Array(await response.arrayBuffer())
    const toFile = options.output !== undefined && options.output !== '-'
    const sink = toFile ? undefined : io.stdout
    const chunks: (Uint8Array | string)[] = []
    if (options.include) {
      const hops = trace ? redirectChain(trace.hops) : []
      const shown: Hop[] = hops.length > 0 ? hops : [hopOf(response)]
      for (const hop of shown) {
        const status = `HTTP ${hop.status} ${hop.statusText}`.trim()
        const lines = [sink ? context.paint(sink, '1', status) : status]
        for (const [name, value] of hop.headers) {
          lines.push(`${sink ? context.paint(sink, '36', name) : name}: ${value}`)
        }
        chunks.push(`${lines.join('\n')}\n\n`)
      }
    }
    chunks.push(sink ? formatBody(bytes, response.headers.get('content-type'), sink.isTTY === true) : bytes)
    if (sink) for (const chunk of chunks) sink.write(chunk)
    else await writeOutput(options.output as string, chunks)
    if (response.status === 401 && !(await plantly.getSession())) {
      throw new CliError('the session has expired', EXIT.noSession, LOGIN_HINT)
    }
    return response.status < 400 ? EXIT.ok : EXIT.failed
  } finally {
    await close()
  }
}

function parseRetries(value: string | undefined): number {
  if (value === undefined) return 0
  if (!/^\d{1,3}$/.test(value) || Number(value) > 100) {
    throw new CliError(
      `--retry: expected a number of tries from 0 to 100, got ${JSON.stringify(value.slice(0, 20))}`,
      EXIT.usage,
    )
  }
  return Number(value)
}

/** What `--retry` tries again: too many requests, and the server's own failures (curl's transient errors). */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status <= 599)
}

/** Retry-After (RFC 9110 §10.2.3): seconds, or an HTTP date; undefined when absent or unreadable. */
function retryAfter(value: string | null): number | undefined {
  if (value === null) return undefined
  const text = value.trim()
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - Date.now()
  if (!Number.isFinite(ms)) return undefined
  return Math.min(Math.max(0, ms), MAX_RETRY_WAIT_MS)
}

/** The last answer and the redirects that led to it, as the transport saw them (a refused attempt before them aside). */
function redirectChain(hops: readonly Hop[]): Hop[] {
  let start = hops.length - 1
  while (start > 0 && /^30[12378]$/.test(`${hops[start - 1]?.status}`)) start--
  return hops.slice(Math.max(0, start))
}

function hopOf(response: Response): Hop {
  return {
    method: '',
    url: response.url,
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
  }
}

async function writeOutput(file: string, chunks: (Uint8Array | string)[]): Promise<void> {
  const bytes = Buffer.concat(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : chunk)))
  try {
    await writeFile(file, bytes)
  } catch (error) {
    const why = (error as { code?: string }).code ?? 'unwritable'
    throw new CliError(`-o ${file}: cannot write the file (${why})`, EXIT.failed)
  }
}
