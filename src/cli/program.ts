import { OptionError } from '../errors/option-error.js'
import { SessionFetchError } from '../errors/session-fetch-error.js'
import { StoreError } from '../errors/store-error.js'
import { parseCommandLine } from './command-line.js'
import {
  type CliStore,
  type Context,
  createContext,
  type Io,
  mismatch,
  type Options,
  SESSIONS_PATH,
  sameURL,
  shownURL,
  storeKind,
} from './context.js'
import { CliError, EXIT, Interrupted } from './exit.js'
import { helpText } from './help.js'
import type { Interrupts } from './interrupts.js'
import { readProfile, type StoreKind, writeProfile } from './profile.js'
import { ask, firstLine } from './prompt.js'

export type { Io } from './context.js'

/**
 * Run the command line `args` (without `node` and the script); resolves with the exit code. `interrupts`: where
 * it says what it holds, so that a signal lets the session call under way finish (see listenForInterrupts).
 */
export async function run(args: string[], io: Io = process, interrupts?: Interrupts): Promise<number> {
  const context = createContext(io, interrupts)
  let verbose = false // a usage error has no stack worth showing
  try {
    const invocation = parseCommandLine(args)
    if (!invocation) {
      io.stderr.write(helpText(undefined, io.stderr.columns)) // no command: what there is to run, as a usage error
      return EXIT.usage
    }
    verbose = invocation.options.verbose
    switch (invocation.command) {
      case 'help':
        io.stdout.write(helpText(invocation.argument, io.stdout.isTTY ? io.stdout.columns : undefined))
        return EXIT.ok
      case 'version': {
        const { packageVersion } = await import('./version.js')
        io.stdout.write(`session-fetch ${await packageVersion()}\n`)
        return EXIT.ok
      }
      case 'completion': {
        const { completionScript } = await import('./completion.js')
        io.stdout.write(completionScript(invocation.argument))
        return EXIT.ok
      }
      case 'login':
        return await login(context, invocation.options)
      case 'api': {
        if (invocation.options.silent) context.silence()
        const { api } = await import('./run-api.js')
        return await api(context, invocation.argument, invocation.options)
      }
      case 'token': {
        const { token } = await import('./run-token.js')
        return await token(context, invocation.options)
      }
      case 'status': {
        const { status } = await import('./run-status.js')
        return await status(context, invocation.options)
      }
      case 'profiles': {
        const { profiles } = await import('./run-status.js')
        return await profiles(context, invocation.options)
      }
      case 'logout':
        return await logout(context, invocation.options)
    }
  } catch (error) {
    if (error instanceof Interrupted) return error.exitCode // Ctrl-C at a prompt: nothing to add
    const exitCode =
      error instanceof CliError ? error.exitCode : error instanceof OptionError ? EXIT.usage : EXIT.failed
    const hint = error instanceof CliError && error.hint ? `: ${error.hint}` : sealedHint(error)
    context.say(`${context.paint(io.stderr, '31', `session-fetch: ${describeError(error)}`)}${hint}\n`)
    if (verbose && error instanceof Error && error.stack) context.say(`${error.stack}\n`)
    return exitCode
  }
}

async function login(context: Context, options: Options<'login'>): Promise<number> {
  const { io } = context
  const global = context.globals(options)
  const profile = await readProfile(global.profile)
  const asked = context.requestedBaseURL(global)
  const baseURL = asked?.url ?? profile?.baseURL
  if (!baseURL) throw new CliError('login: --base-url (or SESSION_FETCH_BASE_URL) is required', EXIT.usage)
  if (
    profile &&
    asked &&
    !sameURL(asked.url, profile.baseURL) &&
    (await holdsSession(context, global, storeKind(profile)))
  ) {
    // Moving a profile to another API would leave its session live at the first one.
    throw new CliError(
      mismatch(global.profile, profile.baseURL, asked),
      EXIT.usage,
      `log out of it first (session-fetch --profile ${global.profile} logout), or log in to the other API under another profile: session-fetch --profile NAME login`,
    )
  }
  const key = context.keyOf(global, profile)
  const keyEnv = global.keyEnv ?? profile?.encryptionKeyEnv
  // --password-stdin is for scripts: nothing is asked, and a terminal would echo what is typed.
  if (options['password-stdin'] && io.stdin.isTTY === true) {
    throw new CliError(
      '--password-stdin: stdin is a terminal, which would show the password as it is typed',
      EXIT.usage,
      'pipe it in (… | session-fetch login --password-stdin), or leave the option out to be asked without echo',
    )
  }
  // Before the password is asked for: a keychain asked for that cannot be used is said at once.
  const { store, kind, notice } = await context.loginStore(global, key, options.store)
  const interactive = io.stdin.isTTY === true && !options['password-stdin']
  const email =
    options.email ??
    (io.env.PLANTLY_EMAIL || undefined) ??
    profile?.email ??
    (interactive ? (await ask('Email: ')).trim() : '')
  if (!email) throw new CliError('login: --email (or PLANTLY_EMAIL) is required', EXIT.usage)
  // The prompt names where the password goes before it is typed: the profile file (and so the URL) may not be
  // what the person expects.
  const where = shownURL(`${baseURL.replace(/\/+$/, '')}${SESSIONS_PATH}`)
  const password = options['password-stdin']
    ? await firstLine()
    : (io.env.PLANTLY_PASSWORD ??
      (interactive
        ? await ask(`Password for ${email} (sent to ${where}): `, { hidden: true })
        : await firstLine()))
  if (!password) {
    const from = options['password-stdin'] ? 'stdin is empty' : 'PLANTLY_PASSWORD, the prompt or stdin'
    throw new CliError(`login: no password (${from})`, EXIT.usage)
  }
  const { plantly, calling, close } = context.client(baseURL, store)
  try {
    // The profile is part of the login: without it the next run does not know where the session is from.
    await calling(
      'login',
      plantly.login({ email_address: email, password }).then(() =>
        writeProfile(global.profile, {
          baseURL,
          email,
          store: kind,
          ...(keyEnv === undefined ? {} : { encryptionKeyEnv: keyEnv }),
        }),
      ),
    )
  } finally {
    await close()
  }
  // A session left in the store the profile used before would stay there, tokens and all.
  const before = storeKind(profile)
  const left = profile && before !== kind ? await forget(context, global, before) : undefined
  context.say(`Logged in as ${email} at ${baseURL} (profile ${global.profile})\n`)
  if (notice) context.say(notice)
  if (left) context.say(left)
  return EXIT.ok
}

async function logout(context: Context, options: Options<'logout'>): Promise<number> {
  const global = context.globals(options)
  const { baseURL, profile } = await context.target(global)
  const key = context.keyOf(global, profile)
  const { plantly, calling, close } = context.client(
    baseURL,
    await context.store(global, key, storeKind(profile)),
  )
  try {
    if (!(await plantly.getSession())) {
      context.say(`Not logged in (profile ${global.profile})\n`)
      return EXIT.ok
    }
    await calling('logout', plantly.logout())
    context.say(`Logged out (profile ${global.profile})\n`)
    return EXIT.ok
  } finally {
    await close()
  }
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

// The file store speaks of its option; the command's way to give the key is another.
function sealedHint(error: unknown): string {
  if (!(error instanceof StoreError) || !error.message.includes('`encryptionKey`')) return ''
  if (error.message.includes('is not encrypted')) {
    return ': it holds a session in clear; log out first (session-fetch logout), then log in with --encryption-key-env'
  }
  if (error.message.includes('could not be decrypted')) {
    return ': the variable --encryption-key-env names (or the one the profile remembers) holds another key'
  }
  return ': the command reads the key from the environment variable --encryption-key-env names'
}

async function holdsSession(
  context: Context,
  global: ReturnType<Context['globals']>,
  kind: StoreKind,
): Promise<boolean> {
  const store = await context.store(global, undefined, kind)
  try {
    return (await store.read()).record !== undefined
  } catch {
    return true // a sealed session: there is one
  } finally {
    await store.close()
  }
}

/**
 * Clear the session `profile` kept in the store it used before this login (nothing is sent to the server).
 * Never throws: the login is done; what could not be cleared is said (undefined when all went well).
 */
async function forget(
  context: Context,
  global: ReturnType<Context['globals']>,
  kind: StoreKind,
): Promise<string | undefined> {
  let store: CliStore | undefined
  try {
    store = await context.store(global, undefined, kind)
    const snapshot = await store.read()
    if (snapshot.record) {
      await store.write(
        { record: undefined, reason: 'logout', writer: 'session-fetch login' },
        snapshot.version,
      )
    }
    return undefined
  } catch (error) {
    const where = kind === 'file' ? 'file' : 'OS keychain'
    return `session-fetch: the session this profile kept in the ${where} before could not be cleared (${describeError(error)})\n`
  } finally {
    await store?.close()
  }
}
