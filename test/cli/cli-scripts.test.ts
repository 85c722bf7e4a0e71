import { readFile } from 'node:fs/promises'
import { describe, expect, test } from 'vitest'
import { cli, onTerminal, setup, tokens } from '../helpers/cli.js'
import { DEMO_USER } from '../helpers/mock-server.js'

// What scripts and CI use: `token`, `status --json` and `--check`, `--version`, a login without a prompt,
// `profiles` and SESSION_FETCH_PROFILE. Real processes against the mock over HTTP, as in cli.test.ts.

const TOKEN = /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/

describe('token', () => {
  test('prints the stored access token and nothing else; --json adds its expiry and type', async () => {
    const { server, env, folder, login } = await setup()
    await login()
    const [access] = await tokens(folder)
    const plain = await cli(['token'], env)
    expect(plain).toEqual({ code: 0, stdout: `${access}\n`, stderr: '' })
    const json = await cli(['token', '--json'], env)
    expect(json).toMatchObject({ code: 0, stderr: '' })
    const parsed = JSON.parse(json.stdout) as Record<string, unknown>
    expect(Object.keys(parsed)).toEqual(['access_token', 'expires_at', 'token_type'])
    expect(parsed.access_token).toBe(access)
    expect(parsed.token_type).toBe('bearer')
    const expiresAt = Date.parse(String(parsed.expires_at))
    expect(expiresAt).toBeGreaterThan(Date.now())
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 61_000)
    expect(server.counters.refreshes).toBe(0) // not due: no refresh
  }, 120_000)

  test('refreshes first when the token is due: the token printed is the new one, one refresh', async () => {
    const { server, env, folder, login } = await setup({ accessTtlSeconds: 1 })
    await login()
    const [before] = await tokens(folder)
    // Due once half of its one second has passed (the refresh window is capped at half the lifetime).
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const run = await cli(['token'], env)
    expect(run.code).toBe(0)
    expect(run.stderr).toBe('')
    const printed = run.stdout.trim()
    expect(printed).toMatch(TOKEN)
    expect(printed).not.toBe(before)
    expect(printed).toBe((await tokens(folder))[0])
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
  }, 120_000)

  test('the same exit codes as `api`: 3 when not logged in or when the session died, stdout empty', async () => {
    const { server, env, login } = await setup({ accessTtlSeconds: 1 })
    const never = await cli(['token'], env)
    expect(never).toEqual({
      code: 3,
      stdout: '',
      stderr: 'session-fetch: profile "default" is not logged in: run `session-fetch login` first\n',
    })
    await login()
    server.mock.revokeAll()
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const died = await cli(['token', '--json'], env)
    expect(died).toEqual({
      code: 3,
      stdout: '',
      stderr: 'session-fetch: the session has expired: run `session-fetch login` first\n',
    })
    expect(server.counters.refreshRejected).toBe(1)
    expect((await cli(['token', 'extra'], env)).code).toBe(2)
  }, 120_000)
})

describe('status', () => {
  test('--json: profile, base URL, user, expiry and where it is stored; never a token', async () => {
    const { server, env, folder, login } = await setup()
    await login()
    const run = await cli(['status', '--json'], env)
    expect(run).toMatchObject({ code: 0, stderr: '' })
    const status = JSON.parse(run.stdout) as Record<string, unknown>
    expect(status).toEqual({
      profile: 'default',
      base_url: server.url,
      user: DEMO_USER.email_address,
      session: 'active',
      expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      refresh_token: true,
      store: { type: 'file', path: `${folder}/default.json`, encrypted: false },
    })
    for (const token of await tokens(folder)) expect(run.stdout).not.toContain(token)

    await cli(['logout'], env)
    const after = await cli(['status', '--json'], env)
    expect(after.code).toBe(3)
    expect(JSON.parse(after.stdout)).toMatchObject({
      session: 'logged_out',
      expires_at: null,
      refresh_token: false,
    })
  }, 120_000)

  test('--check PATH: one authenticated GET says whether the server still accepts the session (exit 0, or 3 once revoked)', async () => {
    const { server, env, folder, login } = await setup()
    await login()
    const accepted = await cli(['status', '--check', '/me'], env)
    expect(accepted.code).toBe(0)
    expect(accepted.stdout).toMatch(/^server +accepts the session \(GET \/me: 200\)$/m)
    const checked = server.log.filter((entry) => entry.path === '/me')
    expect(checked).toHaveLength(1)
    expect(checked[0]?.token).toBe((await tokens(folder))[0])

    server.mock.revokeAll() // the server ends the session; the file still holds it
    const unchecked = await cli(['status'], env)
    expect(unchecked.code).toBe(0)
    expect(unchecked.stdout).toMatch(/^session +active$/m)
    const refused = await cli(['status', '--check', '/me', '--json'], env)
    expect(refused.code).toBe(3)
    expect(JSON.parse(refused.stdout)).toMatchObject({
      session: 'none',
      check: { path: '/me', status: 401, accepted: false },
    })
    expect(refused.stderr).toBe(
      'session-fetch: the server no longer accepts the session: run `session-fetch login` first\n',
    )
    expect((await cli(['status', '--check', 'me'], env)).code).toBe(2)
  }, 120_000)
})

test('--version and `version` print the package’s version', async () => {
  const { env } = await setup()
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'))
  for (const args of [['--version'], ['version'], ['status', '--version']]) {
    expect(await cli(args, env)).toEqual({ code: 0, stdout: `session-fetch ${version}\n`, stderr: '' })
  }
}, 120_000)

describe('login for CI', () => {
  test('--password-stdin and PLANTLY_EMAIL: no prompt, no terminal; stdin wins over PLANTLY_PASSWORD', async () => {
    const { server, env } = await setup()
    const args = ['login', '--base-url', server.url, '--store', 'file', '--password-stdin']
    const ci = { ...env, PLANTLY_EMAIL: DEMO_USER.email_address, PLANTLY_PASSWORD: 'not-the-password' }
    const run = await cli(args, ci, `${DEMO_USER.password}\n`)
    expect(run).toEqual({
      code: 0,
      stdout: '',
      stderr: `Logged in as ${DEMO_USER.email_address} at ${server.url} (profile default)\n`,
    })
    expect(server.counters.logins).toBe(1)
    expect(server.counters.loginFailures).toBe(0)

    const empty = await cli(args, ci, '')
    expect(empty).toEqual({
      code: 2,
      stdout: '',
      stderr: 'session-fetch: login: no password (stdin is empty)\n',
    })
    const fresh = ['--profile', 'fresh', 'login', '--base-url', server.url, '--password-stdin']
    const noEmail = await cli(fresh, env, 'x\n') // a new profile remembers no email
    expect(noEmail.stderr).toBe('session-fetch: login: --email (or PLANTLY_EMAIL) is required\n')
    // --email wins over PLANTLY_EMAIL.
    const other = await cli([...args, '--email', 'nobody@plantly.test'], ci, `${DEMO_USER.password}\n`)
    expect(other.code).toBe(1)
    expect(server.counters.loginFailures).toBe(1)
  }, 120_000)

  test('--password-stdin on a terminal is refused (it would echo the password), before anything is sent', async () => {
    const { server, env } = await setup()
    const args = ['login', '--base-url', server.url, '--email', DEMO_USER.email_address, '--password-stdin']
    const { code, screen } = await onTerminal(args, env)
    expect(code).toBe(2)
    expect(screen).toContain(
      'session-fetch: --password-stdin: stdin is a terminal, which would show the password as it is typed',
    )
    expect(screen).toContain(': pipe it in (… | session-fetch login --password-stdin)')
    expect(server.counters.logins + server.counters.loginFailures).toBe(0)
  }, 120_000)
})

describe('profiles', () => {
  test('lists every profile (name, base URL, user, state, store; --json); SESSION_FETCH_PROFILE picks one, --profile wins', async () => {
    const { server, env, folder, login } = await setup()
    expect(await cli(['profiles', '--json'], env)).toEqual({ code: 0, stdout: '[]\n', stderr: '' })
    await login()
    const work = { ...env, SESSION_FETCH_PROFILE: 'work' }
    expect((await login([], { SESSION_FETCH_PROFILE: 'work' })).stderr).toContain('(profile work)')
    expect((await cli(['logout'], work)).stderr).toBe('Logged out (profile work)\n')

    const listed = await cli(['profiles', '--json'], work)
    expect(listed.code).toBe(0)
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        name: 'default',
        base_url: server.url,
        user: DEMO_USER.email_address,
        state: 'active',
        expires_at: expect.any(String),
        store: 'file',
        current: false,
      },
      {
        name: 'work',
        base_url: server.url,
        user: DEMO_USER.email_address,
        state: 'logged_out',
        expires_at: null,
        store: 'file',
        current: true,
      },
    ])
    const table = await cli(['profiles'], env)
    expect(table.stdout.split('\n')).toEqual([
      expect.stringMatching(/^ {3}NAME +BASE URL +USER +STATE +STORE$/),
      expect.stringMatching(new RegExp(`^\\* +default +${server.url} +demo@plantly\\.test +active +file$`)),
      expect.stringMatching(new RegExp(`^ +work +${server.url} +demo@plantly\\.test +logged out +file$`)),
      '',
    ])
    for (const token of await tokens(folder)) expect(listed.stdout + table.stdout).not.toContain(token)

    expect((await cli(['status'], work)).stdout).toMatch(/^profile +work$/m)
    expect((await cli(['status', '--profile', 'default'], work)).stdout).toMatch(/^profile +default$/m)
    const bad = await cli(['status'], { ...env, SESSION_FETCH_PROFILE: '../etc' })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^session-fetch: SESSION_FETCH_PROFILE: expected letters/)
  }, 120_000)
})
