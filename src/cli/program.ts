import { hostname } from 'node:os'
import { createSessionFetch } from '../create-session-fetch.js'
import { OptionError } from '../errors/option-error.js'
import { SessionFetchError } from '../errors/session-fetch-error.js'
import { fileStore } from '../stores/file/file-store.js'
import type { LockWait } from '../stores/file/options.js'
import { parseCommandLine } from './command-line.js'
import type { Invocation } from './commands.js'
import { formatDuration } from './duration.js'
import { CliError, EXIT, Interrupted, LOGIN_HINT } from './exit.js'
import { helpText } from './help.js'
import type { Interrupts } from './interrupts.js'
import { checkProfileName, type Profile, readProfile, writeProfile } from './profile.js'
import { ask, firstLine } from './prompt.js'
import { buildRequest, formatBody } from './request.js'

/** Where the command reads and writes: the real process's streams and environment by default. */
export interface Io {
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  stdin: NodeJS.ReadStream
  env: NodeJS.ProcessEnv
}

interface GlobalOptions {
  profile: string
  baseUrl: string | undefined
}

type Options<C extends Invocation['command']> = Extract<Invocation, { command: C }>['options']

/**
 * Run the command line `args` (without `node` and the script); resolves with the exit code. `interrupts`: where
 * it says what it holds, so that a signal lets the session call under way finish (see listenForInterrupts).
 */
export async function run(args: string[], io: Io = process, interrupts?: Interrupts): Promise<number> {
  const colour = (stream: NodeJS.WriteStream) => stream.isTTY === true && !io.env.NO_COLOR
  const paint = (stream: NodeJS.WriteStream, code: string, text: string) =>
    colour(stream) ? `\x1b[${code}m${text}\x1b[0m` : text
  let verbose = false // a usage error has no stack worth showing

  /** The global options, the profile's name checked: it names files. */
  function globals(options: Options<Invocation['command']>): GlobalOptions {
    return { profile: checkProfileName(options.profile), baseUrl: options['base-url'] }
  }

  /**
   * The base URL: --base-url, else SESSION_FETCH_BASE_URL, else the profile's. One that differs from the URL the
   * profile was logged in at is refused, naming both and where the other came from: the profile's session
   * belongs to the API it logged in to.
   */
  async function target(options: GlobalOptions): Promise<{ baseURL: string; profile: Profile | undefined }> {
    const profile = await readProfile(options.profile)
    const asked = requestedBaseURL(options)
    if (profile && asked && !sameURL(asked.url, profile.baseURL)) {
      throw new CliError(
        mismatch(options.profile, profile.baseURL, asked),
        EXIT.usage,
        `unset ${asked.from} to use the profile's, or keep each API in its own profile: session-fetch --profile NAME login`,
      )
    }
    const baseURL = asked?.url ?? profile?.baseURL
    if (!baseURL) {
      throw new CliError(
        `profile ${JSON.stringify(options.profile)} is not logged in`,
        EXIT.noSession,
        LOGIN_HINT,
      )
    }
    return { baseURL, profile }
  }

  /** The base URL the command line or the environment asks for, and which of them asked. */
  function requestedBaseURL(options: GlobalOptions): { url: string; from: string } | undefined {
    if (options.baseUrl !== undefined) return { url: options.baseUrl, from: '--base-url' }
    const env = io.env.SESSION_FETCH_BASE_URL
    return env ? { url: env, from: 'SESSION_FETCH_BASE_URL' } : undefined
  }

  function client(baseURL: string, profile: string) {
    const store = fileStore({
      name: profile,
      onLockWait: (wait) => io.stderr.write(`session-fetch: ${describeWait(wait)}\n`),
      onError: (error) => io.stderr.write(`session-fetch: ${error.message}\n`),
    })
    const plantly = createSessionFetch({ baseURL, store })
    const holding = { plantly, store }
    interrupts?.hold(holding)
    return {
      store,
      plantly,
      /** The command makes this session call now; `saved` settles once its result is kept. */
      calling<T>(call: 'login' | 'logout', saved: Promise<T>): Promise<T> {
        interrupts?.hold({ ...holding, call, saved })
        return saved
      },
      // The client first: what it drains (a refresh landing) is written to the store; then a session a refresh
      // could not write yet is tried once more before the command exits.
      async close() {
        interrupts?.hold(undefined)
        await plantly.close()
        await store.close()
      },
    }
  }

  async function login(options: Options<'login'>): Promise<number> {
    const global = globals(options)
    const profile = await readProfile(global.profile)
    const asked = requestedBaseURL(global)
    const baseURL = asked?.url ?? profile?.baseURL
    if (!baseURL) throw new CliError('login: --base-url (or SESSION_FETCH_BASE_URL) is required', EXIT.usage)
    if (profile && asked && !sameURL(asked.url, profile.baseURL) && (await holdsSession(global.profile))) {
      // Moving a profile to another API would leave its session live at the first one.
      throw new CliError(
        mismatch(global.profile, profile.baseURL, asked),
        EXIT.usage,
        `log out of it first (session-fetch --profile ${global.profile} logout), or log in to the other API under another profile: session-fetch --profile NAME login`,
      )
    }
    const interactive = io.stdin.isTTY === true
    const email = options.email ?? profile?.email ?? (interactive ? (await ask('Email: ')).trim() : '')
    if (!email) throw new CliError('login: --email is required', EXIT.usage)
    const password =
      io.env.PLANTLY_PASSWORD ?? (interactive ? await ask('Password: ', { hidden: true }) : await firstLine())
    if (!password)
      throw new CliError('login: no password (PLANTLY_PASSWORD, the prompt or stdin)', EXIT.usage)
    const { plantly, calling, close } = client(baseURL, global.profile)
    try {
      // The profile is part of the login: without it the next run does not know where the session is from.
      await calling(
        'login',
        plantly
          .login({ email_address: email, password })
          .then(() => writeProfile(global.profile, { baseURL, email })),
      )
    } finally {
      await close()
    }
    io.stderr.write(`Logged in as ${email} at ${baseURL} (profile ${global.profile})\n`)
    return EXIT.ok
  }

  async function api(path: string, options: Options<'api'>): Promise<number> {
    const global = globals(options)
    if (!path.startsWith('/') && !/^https?:\/\//i.test(path)) {
      throw new CliError(`api: expected a path starting with "/", got ${JSON.stringify(path)}`, EXIT.usage)
    }
    const request = await buildRequest(options)
    const { baseURL } = await target(global)
    const { plantly, close } = client(baseURL, global.profile)
    try {
      if (!(await plantly.getSession())) {
        throw new CliError(
          `profile ${JSON.stringify(global.profile)} is not logged in`,
          EXIT.noSession,
          LOGIN_HINT,
        )
      }
      const response = await plantly.fetch(path, {
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
      })
      const bytes = new Uint8Array(await response.arrayBuffer())
      if (options.include) {
        const status = `HTTP ${response.status} ${response.statusText}`.trim()
        const lines = [paint(io.stdout, '1', status)]
        for (const [name, value] of response.headers) lines.push(`${paint(io.stdout, '36', name)}: ${value}`)
        io.stdout.write(`${lines.join('\n')}\n\n`)
      }
      io.stdout.write(formatBody(bytes, response.headers.get('content-type'), io.stdout.isTTY === true))
      if (response.status === 401 && !(await plantly.getSession())) {
        throw new CliError('the session has expired', EXIT.noSession, LOGIN_HINT)
      }
      return response.status < 400 ? EXIT.ok : EXIT.failed
    } finally {
      await close()
    }
  }

  async function status(options: Options<'status'>): Promise<number> {
    const global = globals(options)
    const { baseURL, profile } = await target(global)
    const store = fileStore({ name: global.profile })
    try {
      const snapshot = await store.read()
      const record = snapshot.record
      const rows: [string, string][] = [
        ['profile', global.profile],
        ['base URL', baseURL],
        ['user', profile?.email ?? 'unknown'],
        ['session', record ? 'active' : snapshot.reason === 'logout' ? 'none (logged out)' : 'none'],
      ]
      if (record) {
        const left = record.expiresAt === undefined ? undefined : record.expiresAt - Date.now()
        rows.push([
          'access token',
          left === undefined
            ? 'no expiry known (renewed after a 401)'
            : left > 0
              ? `expires in ${formatDuration(left)}`
              : `expired ${formatDuration(-left)} ago (renewed on the next call)`,
        ])
        rows.push(['refresh token', record.session.refresh_token ? 'present' : 'none'])
      }
      rows.push(['file', store.path])
      for (const [label, value] of rows)
        io.stdout.write(`${paint(io.stdout, '1', label.padEnd(14))}${value}\n`)
      if (!record) throw new CliError('not logged in', EXIT.noSession, LOGIN_HINT)
      return EXIT.ok
    } finally {
      await store.close()
    }
  }

  async function logout(options: Options<'logout'>): Promise<number> {
    const global = globals(options)
    const { baseURL } = await target(global)
    const { plantly, calling, close } = client(baseURL, global.profile)
    try {
      if (!(await plantly.getSession())) {
        io.stderr.write(`Not logged in (profile ${global.profile})\n`)
        return EXIT.ok
      }
      await calling('logout', plantly.logout())
      io.stderr.write(`Logged out (profile ${global.profile})\n`)
      return EXIT.ok
    } finally {
      await close()
    }
  }

  try {
    const invocation = parseCommandLine(args)
    if (!invocation) {
      io.stderr.write(helpText()) // no command: what there is to run, as a usage error
      return EXIT.usage
    }
    verbose = invocation.options.verbose
    switch (invocation.command) {
      case 'help':
        io.stdout.write(helpText(invocation.argument))
        return EXIT.ok
      case 'login':
        return await login(invocation.options)
      case 'api':
        return await api(invocation.argument, invocation.options)
      case 'status':
        return await status(invocation.options)
      case 'logout':
        return await logout(invocation.options)
    }
  } catch (error) {
    if (error instanceof Interrupted) return error.exitCode // Ctrl-C at a prompt: nothing to add
    const exitCode =
      error instanceof CliError ? error.exitCode : error instanceof OptionError ? EXIT.usage : EXIT.failed
    const hint = error instanceof CliError && error.hint ? `: ${error.hint}` : ''
    io.stderr.write(`${paint(io.stderr, '31', `session-fetch: ${describeError(error)}`)}${hint}\n`)
    if (verbose && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`)
    return exitCode
  }
}

// What a wait for a lock is for, once it has lasted a second: a run that seems stuck says why.
function describeWait(wait: LockWait): string {
  const lock = wait.lock === 'refresh' ? 'the session lock' : 'the session file’s write lock'
  const holder =
    wait.pid === undefined
      ? 'a lock file that does not say who holds it'
      : `pid ${wait.pid}${wait.host && wait.host !== hostname() ? ` on ${wait.host}` : ''}`
  return `waiting for ${lock} held by ${holder} (${wait.path}; at most ${formatDuration(wait.maxWaitMs)})…`
}

// One line: the library's errors never carry a token; others are summed up by name and cause code.
function describeError(error: unknown): string {
  if (error instanceof CliError || error instanceof SessionFetchError) return error.message
  if (error instanceof Error) {
    const cause = (error.cause as { code?: string; message?: string } | undefined)?.code
    return `${error.message}${cause ? ` (${cause})` : ''}`.replace(/\s*\n\s*/g, ' ')
  }
  return String(error)
}

function mismatch(profile: string, remembered: string, asked: { url: string; from: string }): string {
  return `profile ${JSON.stringify(profile)} has the base URL ${shownURL(remembered)} (from its login), but ${asked.from} asks for ${shownURL(asked.url)}`
}

// A URL as the command shows it: without credentials, query or fragment, which may carry secrets.
function shownURL(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`
  } catch {
    return 'a URL that does not parse'
  }
}

function sameURL(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href
  } catch {
    return a === b
  }
}

async function holdsSession(profile: string): Promise<boolean> {
  const store = fileStore({ name: profile })
  try {
    return (await store.read()).record !== undefined
  } finally {
    store.close()
  }
}
