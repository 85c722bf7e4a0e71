import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { cli } from '../helpers/cli.js'
import { tempFolder } from '../helpers/file-store.js'
import { DEMO_USER, mockServer, recordRequests } from '../helpers/mock-server.js'

// `session-fetch login` where no OS keychain answers. The D-Bus session bus is pointed at a socket that does not
// exist, so no Secret Service can be reached on any Linux machine (on this one, without it, the kernel keyring is
// blocked too, and the command never uses it). The real keychain: cli-keychain.test.ts (`npm run test:keychain`).
async function setup() {
  const server = await mockServer()
  const state = await tempFolder('cli-keychain-fallback')
  const folder = join(state, 'session-fetch')
  const env = { XDG_STATE_HOME: state, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(state, 'no-bus')}` }
  const login = (extra: string[] = []) =>
    cli(['login', '--base-url', server.url, '--email', DEMO_USER.email_address, ...extra], {
      ...env,
      PLANTLY_PASSWORD: DEMO_USER.password,
    })
  return { server, env, folder, login }
}

describe('login where no OS keychain answers', () => {
  test('without --store: the session goes to the 0600 file, with a one-line notice; the profile remembers the file', async () => {
    const { server, env, folder, login } = await setup()
    const loggedIn = await login()
    expect(loggedIn).toMatchObject({ code: 0, stdout: '' })
    const lines = loggedIn.stderr.split('\n')
    expect(lines).toHaveLength(3) // two lines, each ended
    expect(lines[0]).toBe(`Logged in as ${DEMO_USER.email_address} at ${server.url} (profile default)`)
    const file = join(folder, 'default.json')
    expect(lines[1]).toMatch(/^session-fetch: no OS keychain \(.+\): the session is in the 0600 file /)
    expect(lines[1]).toContain(`the 0600 file ${file} (--store file chooses it without this notice)`)
    expect(lines[2]).toBe('')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(join(folder, 'default.profile.json'), 'utf8'))).toMatchObject({
      store: 'file',
    })

    // The profile says where the session is: no probe, no notice on the next runs.
    const called = await cli(['api', '/buyers'], env)
    expect(called).toMatchObject({ code: 0, stderr: '' })
    const status = await cli(['status'], env)
    expect(status).toMatchObject({ code: 0, stderr: '' })
    expect(status.stdout).toMatch(new RegExp(`^file +${file}$`, 'm'))
    expect(server.counters.logins).toBe(1)

    // --store file: the same, without the notice.
    const chosen = await login(['--store', 'file'])
    expect(chosen).toEqual({
      code: 0,
      stdout: '',
      stderr: `Logged in as ${DEMO_USER.email_address} at ${server.url} (profile default)\n`,
    })
  }, 120_000)

  test('--store keychain: exit 1, one line naming the option and why, before any password is read or sent', async () => {
    const { server, env, folder, login } = await setup()
    const received = recordRequests(server)
    const refused = await login(['--store', 'keychain'])
    expect(refused.code).toBe(1)
    expect(refused.stdout).toBe('')
    expect(refused.stderr).toMatch(
      /^session-fetch: login: --store keychain: the OS keychain cannot be used \(.+\): use --store file to keep the session in a 0600 file\n$/,
    )
    expect(received).toEqual([]) // nothing reached the server
    expect(server.counters.logins).toBe(0)
    // Nothing kept: no session file, no profile.
    expect(await readdir(folder).catch(() => [])).toEqual([])

    // Asked on stdin instead of PLANTLY_PASSWORD: still refused before the password is read.
    const piped = await cli(
      ['login', '--base-url', server.url, '--email', DEMO_USER.email_address, '--store', 'keychain'],
      env,
      `${DEMO_USER.password}\n`,
    )
    expect(piped.code).toBe(1)
    expect(piped.stderr).toBe(refused.stderr)
  }, 120_000)

  test('a --store that is neither keychain nor file: exit 2, one line naming --store', async () => {
    const { server, login } = await setup()
    const wrong = await login(['--store', 'vault'])
    expect(wrong).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'session-fetch: --store: expected "keychain" or "file", got "vault": see session-fetch login --help\n',
    })
    expect(server.counters.logins).toBe(0)
  }, 120_000)

  test('a profile whose session is in the keychain, when the keychain cannot be used: exit 1, one line, no fallback to a file', async () => {
    const { server, env, folder, login } = await setup()
    expect((await login(['--store', 'file'])).code).toBe(0)
    // As a login at a time the keychain answered would have left it.
    const profile = join(folder, 'default.profile.json')
    const remembered = JSON.parse(await readFile(profile, 'utf8')) as Record<string, unknown>
    await writeFile(profile, JSON.stringify({ ...remembered, store: 'keychain' }), { mode: 0o600 })
    for (const command of [['api', '/buyers'], ['status'], ['logout']]) {
      const run = await cli(command, env)
      expect(run.code).toBe(1)
      expect(run.stdout).toBe('')
      expect(run.stderr).toMatch(
        /^session-fetch: profile "default" keeps its session in the OS keychain, which cannot be used: .+: unlock the keychain or start its service, or log in again with --store file\n$/,
      )
    }
    expect(server.counters.apiRequests).toBe(0)
    expect(server.counters.logouts).toBe(0)
  }, 120_000)
})
