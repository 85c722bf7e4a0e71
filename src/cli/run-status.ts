import type { SessionRecord } from '../core/session.js'
import { type Context, type GlobalOptions, type Options, storeKind } from './context.js'
import { formatDuration } from './duration.js'
import { CliError, EXIT, LOGIN_HINT } from './exit.js'
import { type Profile, profileNames, readProfile, type StoreKind } from './profile.js'

/** What `status --check` learnt: the answer to one authenticated GET. */
interface Check {
  path: string
  status: number
  /** true: a 2xx or 3xx; false: 401, the server refuses the session; null: another answer says neither. */
  accepted: boolean | null
}

/** `session-fetch status [--json] [--check PATH]`: who, where, until when; never a token. */
export async function status(context: Context, options: Options<'status'>): Promise<number> {
  const { io } = context
  const global = context.globals(options)
  const { baseURL, profile } = await context.target(global)
  const key = context.keyOf(global, profile)
  if (options.check !== undefined && !options.check.startsWith('/')) {
    throw new CliError(
      `--check: expected a path starting with "/", got ${JSON.stringify(options.check.slice(0, 100))}`,
      EXIT.usage,
    )
  }
  // The check first: a refresh it makes (or the session's death) is what the rest reports.
  const check =
    options.check === undefined
      ? undefined
      : await checkSession(context, global, baseURL, key, storeKind(profile), options.check)
  const store = await context.store(global, key, storeKind(profile))
  let record: SessionRecord | undefined
  let reason: string | undefined
  try {
    const snapshot = await store.read()
    record = snapshot.record
    reason = snapshot.reason
  } finally {
    await store.close()
  }
  const session = record ? 'active' : reason === 'logout' ? 'logged_out' : 'none'
  if (options.json) {
    const summary = {
      profile: global.profile,
      base_url: baseURL,
      user: profile?.email ?? null,
      session,
      expires_at: record?.expiresAt === undefined ? null : new Date(record.expiresAt).toISOString(),
      refresh_token: record ? record.session.refresh_token !== undefined : false,
      store:
        'location' in store
          ? { type: 'keychain', location: store.location, encrypted: key !== undefined }
          : { type: 'file', path: store.path, encrypted: key !== undefined },
      ...(check ? { check } : {}),
    }
    io.stdout.write(`${JSON.stringify(summary, null, io.stdout.isTTY ? 2 : undefined)}\n`)
  } else {
    const rows: [string, string][] = [
      ['profile', global.profile],
      ['base URL', baseURL],
      ['user', profile?.email ?? 'unknown'],
      ['session', record ? 'active' : session === 'logged_out' ? 'none (logged out)' : 'none'],
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
    if (check) rows.push(['server', describeCheck(check)])
    const where =
      'location' in store ? (['keychain', store.location] as const) : (['file', store.path] as const)
    rows.push([where[0], `${where[1]}${key ? ' (encrypted)' : ''}`])
    for (const [label, value] of rows) {
      io.stdout.write(`${context.paint(io.stdout, '1', label.padEnd(14))}${value}\n`)
    }
  }
  if (check?.accepted === false) {
    throw new CliError('the server no longer accepts the session', EXIT.noSession, LOGIN_HINT)
  }
  if (!record) throw new CliError('not logged in', EXIT.noSession, LOGIN_HINT)
  if (check?.accepted === null) {
    throw new CliError(
      `could not tell whether the server accepts the session: GET ${check.path} answered ${check.status}`,
      EXIT.failed,
    )
  }
  return EXIT.ok
}

async function checkSession(
  context: Context,
  global: GlobalOptions,
  baseURL: string,
  key: Uint8Array | undefined,
  kind: StoreKind,
  path: string,
): Promise<Check | undefined> {
  const { plantly, close } = context.client(baseURL, await context.store(global, key, kind))
  try {
    if (!(await plantly.getSession())) return undefined // nothing to ask the server about
    const response = await plantly.fetch(path, { method: 'GET' })
    await response.body?.cancel().catch(() => undefined)
    const accepted = response.status < 400 ? true : response.status === 401 ? false : null
    return { path, status: response.status, accepted }
  } finally {
    await close()
  }
}

function describeCheck(check: Check): string {
  const answer = `GET ${check.path}: ${check.status}`
  if (check.accepted) return `accepts the session (${answer})`
  if (check.accepted === false) return `refuses the session (${answer})`
  return `answered neither way (${answer})`
}

/** One row of `profiles`. */
interface ProfileRow {
  name: string
  base_url: string | null
  user: string | null
  /** `active`, `logged_out`, `none`, `sealed` (its key is not in the environment) or `unreadable`. */
  state: string
  expires_at: string | null
  /** Where its session lives: `keychain` or `file` (null when its profile file cannot be read). */
  store: StoreKind | null
  current: boolean
}

/** `session-fetch profiles [--json]`: every profile of the state folder, without a token. */
export async function profiles(context: Context, options: Options<'profiles'>): Promise<number> {
  const { io } = context
  const current = context.globals(options).profile
  const rows: ProfileRow[] = []
  for (const name of await profileNames()) rows.push(await describeProfile(context, options, name, current))
  if (options.json) {
    io.stdout.write(`${JSON.stringify(rows, null, io.stdout.isTTY ? 2 : undefined)}\n`)
    return EXIT.ok
  }
  if (rows.length === 0) {
    context.say('No profiles: log in with `session-fetch login --base-url URL`\n')
    return EXIT.ok
  }
  const table = [
    ['', 'NAME', 'BASE URL', 'USER', 'STATE', 'STORE'],
    ...rows.map((row) => [
      row.current ? '*' : '',
      row.name,
      row.base_url ?? '-',
      row.user ?? '-',
      row.state.replace('_', ' '),
      row.store ?? '-',
    ]),
  ]
  const widths =
    table[0]?.map((_, column) => Math.max(...table.map((cells) => cells[column]?.length ?? 0))) ?? []
  for (const [index, cells] of table.entries()) {
    const line = cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd()
    io.stdout.write(`${index === 0 ? context.paint(io.stdout, '1', line) : line}\n`)
  }
  return EXIT.ok
}

async function describeProfile(
  context: Context,
  options: Options<'profiles'>,
  name: string,
  current: string,
): Promise<ProfileRow> {
  const row: ProfileRow = {
    name,
    base_url: null,
    user: null,
    state: 'none',
    expires_at: null,
    store: null,
    current: name === current,
  }
  let profile: Profile | undefined
  try {
    profile = await readProfile(name)
  } catch {
    return { ...row, state: 'unreadable' }
  }
  row.base_url = profile?.baseURL ?? null
  row.user = profile?.email ?? null
  row.store = storeKind(profile)
  const global: GlobalOptions = { profile: name, baseUrl: undefined, keyEnv: undefined }
  let key: Uint8Array | undefined
  try {
    key = context.keyOf(
      { ...global, keyEnv: name === current ? options['encryption-key-env'] : undefined },
      profile,
    )
  } catch {
    return { ...row, state: 'sealed' }
  }
  let store: Awaited<ReturnType<Context['store']>> | undefined
  try {
    store = await context.store(global, key, storeKind(profile))
    const snapshot = await store.read()
    const record = snapshot.record
    row.state = record ? 'active' : snapshot.reason === 'logout' ? 'logged_out' : 'none'
    row.expires_at = record?.expiresAt === undefined ? null : new Date(record.expiresAt).toISOString()
  } catch (error) {
    row.state = error instanceof Error && error.message.includes('`encryptionKey`') ? 'sealed' : 'unreadable'
  } finally {
    await store?.close()
  }
  return row
}
