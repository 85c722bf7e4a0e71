import { hostname } from 'node:os'
import { Command, CommanderError, Option } from 'commander'
import { createSessionFetch } from '../create-session-fetch.js'
import { OptionError } from '../errors/option-error.js'
import { SessionFetchError } from '../errors/session-fetch-error.js'
import { fileStore } from '../stores/file/file-store.js'
import type { LockWait } from '../stores/file/options.js'
import { formatDuration } from './duration.js'
import { CliError, EXIT, Interrupted, LOGIN_HINT } from './exit.js'
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
  baseUrl?: string
  verbose?: boolean
}

/**
 * Run the command line `args` (without `node` and the script); resolves with the exit code. `interrupts`: where
 * it says what it holds, so that a signal lets the session call under way finish (see listenForInterrupts).
 */
export async function run(args: string[], io: Io = process, interrupts?: Interrupts): Promise<number> {
  const colour = (stream: NodeJS.WriteStream) => stream.isTTY === true && !io.env.NO_COLOR
  const paint = (stream: NodeJS.WriteStream, code: string, text: string) =>
    colour(stream) ? `\x1b[${code}m${text}\x1b[0m` : text
  let verbose = args.includes('--verbose')

  const program = new Command('session-fetch')
    .description(
      'Call an API with a session that stays alive: log in once, then call it like curl. The token is injected and\n' +
        'refreshed, once for every process on this machine (the session lives in a file of yours).',
    )
    .option('--profile <name>', 'the stored session to use (before or after the command)', 'default')
    .option(
      '--base-url <url>',
      'the API base URL (or SESSION_FETCH_BASE_URL); remembered per profile at login',
    )
    .option('--verbose', 'print stack traces of errors')
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(paint(io.stderr, '31', text)),
    })
    .addHelpText(
      'after',
      '\nExit codes: 0 a 2xx/3xx answer, 1 an HTTP error or a failure, 2 a usage error, 3 not logged in.\n' +
        'Files: $XDG_STATE_HOME/session-fetch (else ~/.local/state/session-fetch; macOS ~/Library/Application\n' +
        'Support/session-fetch; Windows %LOCALAPPDATA%\\session-fetch): <profile>.json, <profile>.profile.json.',
    )

  function globals(command: Command): GlobalOptions & { profile: string } {
    const options = command.optsWithGlobals() as GlobalOptions
    verbose ||= options.verbose === true
    return { ...options, profile: checkProfileName(options.profile) }
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

  program
    .command('login')
    .description(
      'log in and keep the session (password: PLANTLY_PASSWORD, a hidden prompt, or stdin’s first line)',
    )
    .option('--email <email>', 'the account’s email address (asked for when missing, on a terminal)')
    .action(async (options: { email?: string }, command: Command) => {
      const global = globals(command)
      const profile = await readProfile(global.profile)
      const asked = requestedBaseURL(global)
      const baseURL = asked?.url ?? profile?.baseURL
      if (!baseURL)
        throw new CliError('login: --base-url (or SESSION_FETCH_BASE_URL) is required', EXIT.usage)
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
        io.env.PLANTLY_PASSWORD ??
        (interactive ? await ask('Password: ', { hidden: true }) : await firstLine())
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
    })

  program
    .command('api')
    .description(
      'call the API with the session (like curl): the body on stdout, JSON pretty-printed on a terminal',
    )
    .argument('<path>', 'the path below the base URL, e.g. /buyers')
    .addOption(new Option('-X, --request <method>', 'the HTTP method (default GET, or POST with -d)'))
    .option('-d, --data <data>', 'the request body: a string, @file for a file’s bytes, @- for stdin')
    .option('-H, --header <header>', 'a request header "Name: value" (repeatable)', collect)
    .option('-i, --include', 'print the status line and the response headers before the body')
    .action(
      async (
        path: string,
        options: { request?: string; data?: string; header?: string[]; include?: boolean },
        command: Command,
      ) => {
        const global = globals(command)
        if (!path.startsWith('/') && !/^https?:\/\//i.test(path)) {
          throw new CliError(
            `api: expected a path starting with "/", got ${JSON.stringify(path)}`,
            EXIT.usage,
          )
        }
        const request = await buildRequest({ ...options, header: options.header ?? [] })
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
            for (const [name, value] of response.headers)
              lines.push(`${paint(io.stdout, '36', name)}: ${value}`)
            io.stdout.write(`${lines.join('\n')}\n\n`)
          }
          io.stdout.write(formatBody(bytes, response.headers.get('content-type'), io.stdout.isTTY === true))
          if (response.status === 401 && !(await plantly.getSession())) {
            throw new CliError('the session has expired', EXIT.noSession, LOGIN_HINT)
          }
          return finish(response.status < 400 ? EXIT.ok : EXIT.failed)
        } finally {
          await close()
        }
      },
    )

  program
    .command('status')
    .description('who is logged in where, and when the access token expires (never the tokens)')
    .action(async (_options: unknown, command: Command) => {
      const global = globals(command)
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
      } finally {
        await store.close()
      }
    })

  program
    .command('logout')
    .description('end the session on the server and forget it here (every process of this profile sees it)')
    .action(async (_options: unknown, command: Command) => {
      const global = globals(command)
      const { baseURL } = await target(global)
      const { plantly, calling, close } = client(baseURL, global.profile)
      try {
        if (!(await plantly.getSession())) {
          io.stderr.write(`Not logged in (profile ${global.profile})\n`)
          return
        }
        await calling('logout', plantly.logout())
        io.stderr.write(`Logged out (profile ${global.profile})\n`)
      } finally {
        await close()
      }
    })

  let code: number = EXIT.ok
  function finish(exitCode: number): void {
    code = exitCode
  }

  try {
    await program.parseAsync(args, { from: 'user' })
    return code
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and its like exit 0; anything else commander refused is a usage error (already printed).
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage
    }
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

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
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
