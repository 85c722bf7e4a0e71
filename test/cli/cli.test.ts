import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'
import { COMMANDS } from '../../src/cli/commands.js'
import { DURATION_PATTERN } from '../../src/cli/duration.js'
import { helpText } from '../../src/cli/help.js'
import { cli, onTerminal, type Run, setup, tokens } from '../helpers/cli.js'
import { tempFolder } from '../helpers/file-store.js'
import { DEMO_USER, mockServer, recordRequests } from '../helpers/mock-server.js'
import { until } from '../helpers/redis.js'
import { ATTACKER_UID, giveTo, isRoot, VICTIM_UID } from '../helpers/users.js'

describe('login, status, logout', () => {
  test('login with PLANTLY_PASSWORD keeps the session in a 0600 file; status says who, where and when, never a token', async () => {
    const { server, env, folder, login } = await setup()
    const loggedIn = await login()
    expect(loggedIn).toMatchObject({ code: 0, stdout: '' })
    expect(loggedIn.stderr).toBe(
      `Logged in as ${DEMO_USER.email_address} at ${server.url} (profile default)\n`,
    )
    expect((await stat(join(folder, 'default.json'))).mode & 0o777).toBe(0o600)
    expect((await stat(folder)).mode & 0o777).toBe(0o700)
    for (const name of await readdir(folder)) {
      const text = await readFile(join(folder, name), 'utf8')
      expect(text).not.toContain('password')
      expect(text).not.toContain(JSON.stringify(DEMO_USER.password))
    }

    const status = await cli(['status'], env)
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^profile +default$/m)
    expect(status.stdout).toMatch(new RegExp(`^base URL +${server.url}$`, 'm'))
    expect(status.stdout).toMatch(/^user +demo@plantly\.test$/m)
    expect(status.stdout).toMatch(new RegExp(`^access token +expires in ${DURATION_PATTERN}$`, 'm'))
    expect(status.stdout).toMatch(/^refresh token +present$/m)
    const stored = await tokens(folder)
    expect(stored).toHaveLength(2)
    for (const token of stored) expect(status.stdout + status.stderr).not.toContain(token)
    expect(status.stdout + status.stderr).not.toContain('\x1b[') // not a terminal: no colours

    const loggedOut = await cli(['logout'], env)
    expect(loggedOut).toMatchObject({ code: 0, stderr: 'Logged out (profile default)\n' })
    expect(server.counters.logouts).toBe(1)
    const after = await cli(['status'], env)
    expect(after.code).toBe(3)
    expect(after.stdout).toMatch(/^session +none \(logged out\)$/m)
    expect(after.stderr).toBe('session-fetch: not logged in: run `session-fetch login` first\n')
  }, 120_000)

  test('on a terminal the password is asked for without echo, naming where it goes (through a pty: util-linux `script`)', async () => {
    const { server, env } = await setup()
    const args = ['login', '--base-url', server.url, '--email', DEMO_USER.email_address]
    const prompt = `Password for ${DEMO_USER.email_address} (sent to ${server.url}/auth/sessions): `
    const { code, screen } = await onTerminal(args, env, { [prompt]: `${DEMO_USER.password}\r` })
    expect(code).toBe(0)
    const [beforeLogin] = screen.split('Logged in as')
    expect(beforeLogin).toContain(prompt)
    // What follows the prompt (the password is "plantly", which the email's domain holds too).
    expect(beforeLogin?.split(prompt)[1]).not.toContain(DEMO_USER.password)
    expect(screen).toContain(`Logged in as ${DEMO_USER.email_address}`)
    expect(server.counters.logins).toBe(1)

    // Colours on a terminal, none with NO_COLOR.
    expect((await onTerminal(['status'], env)).screen).toContain('\x1b[1mprofile')
    const plain = await onTerminal(['status'], { ...env, NO_COLOR: '1' })
    expect(plain.screen).toMatch(/^profile +default/m)
    expect(plain.screen).not.toContain('\x1b[')
  }, 120_000)

  test('the password can come from stdin; a refused login is one line, exit 1, without the password', async () => {
    const { server, env } = await setup()
    const args = ['login', '--base-url', server.url, '--email', DEMO_USER.email_address]
    const refused = await cli(args, env, 'not-the-password\n')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe('session-fetch: Login failed with status 401\n')
    expect(refused.stderr).not.toContain('not-the-password')
    const accepted = await cli(args, env, `${DEMO_USER.password}\n`)
    expect(accepted.code).toBe(0)
    expect(server.counters.logins).toBe(1)
  }, 120_000)

  test('the base URL from SESSION_FETCH_BASE_URL is remembered per profile; --profile goes before or after the command', async () => {
    const { server, env } = await setup()
    const work = await cli(['--profile', 'work', 'login', '--email', DEMO_USER.email_address], {
      ...env,
      SESSION_FETCH_BASE_URL: server.url,
      PLANTLY_PASSWORD: DEMO_USER.password,
    })
    expect(work.code).toBe(0)
    const status = await cli(['status', '--profile', 'work'], env)
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(new RegExp(`^base URL +${server.url}$`, 'm'))
    expect((await cli(['api', '/buyers', '--profile', 'work'], env)).code).toBe(0)
    const other = await cli(['api', '/buyers'], env) // the default profile never logged in
    expect(other).toMatchObject({ code: 3, stdout: '' })
    expect(other.stderr).toBe(
      'session-fetch: profile "default" is not logged in: run `session-fetch login` first\n',
    )
  }, 120_000)

  test('a base URL from the environment or --base-url that differs from the profile’s is refused, naming both', async () => {
    const { server, env, login } = await setup()
    const other = await mockServer()
    await login()
    const remembered = `profile "default" has the base URL ${server.url} (from its login)`
    for (const command of [['api', '/buyers'], ['status'], ['logout']]) {
      const viaEnv = await cli(command, { ...env, SESSION_FETCH_BASE_URL: other.url })
      expect(viaEnv).toMatchObject({ code: 2, stdout: '' })
      expect(viaEnv.stderr).toBe(
        `session-fetch: ${remembered}, but SESSION_FETCH_BASE_URL asks for ${other.url}: unset SESSION_FETCH_BASE_URL to use the profile's, or keep each API in its own profile: session-fetch --profile NAME login\n`,
      )
      const viaFlag = await cli([...command, '--base-url', other.url], env)
      expect(viaFlag).toMatchObject({ code: 2 })
      expect(viaFlag.stderr).toContain(`but --base-url asks for ${other.url}: unset --base-url`)
    }
    // Logging in elsewhere would leave this session live at the first API: log out first.
    const moved = await cli(['login', '--email', DEMO_USER.email_address], {
      ...env,
      SESSION_FETCH_BASE_URL: other.url,
      PLANTLY_PASSWORD: DEMO_USER.password,
    })
    expect(moved).toMatchObject({ code: 2 })
    expect(moved.stderr).toContain('log out of it first (session-fetch --profile default logout)')
    expect(other.counters.logins).toBe(0)
    expect(server.counters.logouts).toBe(0)
    // What the command shows of the asked URL never holds its credentials or its query.
    const secretive = await cli(
      ['api', '/buyers', '--base-url', 'https://me:hunter2@api.example/v1?key=sekrit'],
      env,
    )
    expect(secretive).toMatchObject({ code: 2 })
    expect(secretive.stderr).toContain('but --base-url asks for https://api.example/v1:')
    expect(secretive.stderr).not.toMatch(/hunter2|sekrit/)
    expect((await cli(['api', '/buyers', '--base-url', 'http://[::1'], env)).stderr).toContain(
      'asks for a URL that does not parse',
    )
    // The same URL written differently is the same API.
    expect((await cli(['api', '/buyers'], { ...env, SESSION_FETCH_BASE_URL: `${server.url}/` })).code).toBe(0)
    // Once logged out, the profile may move.
    expect((await cli(['logout'], env)).code).toBe(0)
    const after = await cli(['login', '--email', DEMO_USER.email_address], {
      ...env,
      SESSION_FETCH_BASE_URL: other.url,
      PLANTLY_PASSWORD: DEMO_USER.password,
    })
    expect(after).toMatchObject({ code: 0 })
    expect(other.counters.logins).toBe(1)
    expect((await cli(['api', '/buyers'], env)).code).toBe(0)
  }, 120_000)
})

describe('api', () => {
  test('each flag: -X, -d (string, @file, @-), -H, -i; the body goes to stdout as it came', async () => {
    const { server, env, folder, login } = await setup()
    const received = recordRequests(server)
    await login()

    const get = await cli(['api', '/buyers'], env)
    expect(get.code).toBe(0)
    expect(JSON.parse(get.stdout)).toMatchObject({ ok: true, method: 'GET', path: '/buyers', bodyLength: 0 })
    expect(get.stdout).not.toContain('\n') // piped: raw, not pretty-printed

    const post = await cli(
      ['api', '/plants', '-X', 'POST', '-d', '{"name":"fern"}', '-H', 'x-trace: 1', '-i'],
      env,
    )
    expect(post.code).toBe(0)
    const [head, body] = post.stdout.split('\n\n')
    expect(head).toMatch(/^HTTP 200 OK\n/)
    expect(head).toMatch(/^content-type: application\/json/m)
    expect(JSON.parse(body ?? '')).toMatchObject({
      method: 'POST',
      contentType: 'application/json',
      bodyLength: 15,
    })
    expect(received.find((r) => r.path === '/plants')).toMatchObject({ body: '{"name":"fern"}' })
    const traced = server.log.find((entry) => entry.path === '/plants')
    expect(traced?.token).toBe((await tokens(folder))[0])

    const photo = join(await tempFolder('photo'), 'photo.jpg')
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256))
    await writeFile(photo, bytes)
    const put = await cli(['api', '/upload', '-X', 'PUT', '-d', `@${photo}`], env)
    expect(put.code).toBe(0)
    expect(JSON.parse(put.stdout)).toMatchObject({
      method: 'PUT',
      contentType: 'application/octet-stream',
      bodyLength: 1000,
      bodyHash: createHash('sha256').update(bytes).digest('hex'),
    })

    const piped = await cli(['api', '/notes', '-d', '@-', '-H', 'content-type: text/plain'], env, 'hello')
    expect(JSON.parse(piped.stdout)).toMatchObject({
      method: 'POST',
      contentType: 'text/plain',
      bodyLength: 5,
    })
    expect(received.find((r) => r.path === '/notes')?.authorization).toMatch(/^Bearer /)
  }, 120_000)

  test('exit codes: 1 for an HTTP error (body still printed), 2 for usage, 3 when the session died', async () => {
    const { server, env, login } = await setup()
    await login()
    server.inject({ on: 'api', status: 500, body: { error: 'boom' } })
    const failed = await cli(['api', '/buyers'], env)
    expect(failed).toMatchObject({ code: 1, stderr: '' })
    expect(JSON.parse(failed.stdout)).toEqual({ error: 'boom' })

    for (const args of [
      ['api'],
      ['api', '/x', '--bogus'],
      ['api', 'x'],
      ['api', '/x', '-H', 'nocolon'],
      ['nope'],
    ]) {
      const usage = await cli(args, env)
      expect(usage.code).toBe(2)
      expect(usage.stderr.trim().split('\n')).toHaveLength(1)
    }
    const missing = await cli(['api', '/x', '-X', 'PUT', '-d', '@/no/such/file'], env)
    expect(missing).toMatchObject({
      code: 2,
      stderr: 'session-fetch: -d @/no/such/file: cannot read the file (ENOENT)\n',
    })

    server.mock.revokeAll() // the session dies on the server: its refresh is refused
    const died = await cli(['api', '/buyers'], env)
    expect(died.code).toBe(3)
    expect(died.stderr).toBe('session-fetch: the session has expired: run `session-fetch login` first\n')
    expect(server.counters.refreshRejected).toBe(1)
  }, 120_000)

  test('--help for every command, exit 0', async () => {
    const { env } = await setup()
    for (const command of [[], ['login'], ['api'], ['status'], ['logout']]) {
      const help = await cli([...command, '--help'], env)
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(new RegExp(`^Usage: session-fetch ${command[0] ?? ''}`))
      expect(help.stdout).toContain('--profile')
    }
  }, 120_000)

  test('8 `session-fetch api` processes started together right after the expiry make exactly one refresh', async () => {
    const { server, env, login } = await setup()
    await login()
    server.mock.expireAccessTokens()
    const started = performance.now()
    const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => cli(['api', `/storm/${i}`], env)))
    const elapsed = performance.now() - started
    expect(runs.map((run) => run.code)).toEqual(Array(8).fill(0))
    for (const run of runs) expect(JSON.parse(run.stdout)).toMatchObject({ ok: true })
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.refreshRejected).toBe(0)
    console.info(
      `session-fetch api, 8 processes after expiry: ${server.counters.refreshes} refresh, ${server.counters.reuseDetected} reuse, ${Math.round(elapsed)} ms`,
    )
  }, 300_000)
})

describe('the command line', () => {
  test('an unknown option, a missing value or argument: exit 2, one line naming it (and the closest known option)', async () => {
    const { env } = await setup()
    for (const [args, said] of [
      [
        ['api', '/buyers', '--heder', 'x: 1'],
        'unknown option --heder (did you mean --header?): see session-fetch api --help',
      ],
      [
        ['login', '--emial', 'me@example.com'],
        'unknown option --emial (did you mean --email?): see session-fetch login --help',
      ],
      [['api', '/buyers', '--bogus'], 'unknown option --bogus: see session-fetch api --help'],
      [['login', '--email'], '--email <email>: missing its value: see session-fetch login --help'],
      [['api'], 'api: missing the argument <path>: see session-fetch api --help'],
      [['stauts'], 'unknown command "stauts" (did you mean status?): see session-fetch --help'],
    ] as const) {
      expect(await cli([...args], env)).toEqual({ code: 2, stdout: '', stderr: `session-fetch: ${said}\n` })
    }
  }, 120_000)

  test('-d and -H values may start with "-"; `--` ends the options', async () => {
    const { server, env, login } = await setup()
    await login()
    const seen: { path: string; odd: string | null; body: string }[] = []
    const handle = server.mock.handle.bind(server.mock)
    server.mock.handle = (request) => {
      const body = new TextDecoder().decode(request.body)
      seen.push({ path: request.path, odd: request.headers.get('-x-odd'), body })
      return handle(request)
    }
    const negative = await cli(['api', '/numbers', '-X', 'PUT', '-d', '-1', '-H', '-x-odd: yes'], env)
    expect(negative.code).toBe(0)
    expect(seen.find((request) => request.path === '/numbers')).toEqual({
      path: '/numbers',
      odd: 'yes',
      body: '-1',
    })

    const ended = await cli(['api', '-X', 'POST', '-d', '{}', '--', '/plants'], env)
    expect(ended.code).toBe(0)
    expect(JSON.parse(ended.stdout)).toMatchObject({ method: 'POST', path: '/plants' })
    // After `--`, `-i` is an argument, not the option: one too many for `api`.
    const after = await cli(['api', '/buyers', '--', '-i'], env)
    expect(after).toEqual({
      code: 2,
      stdout: '',
      stderr: 'session-fetch: api: expected one argument, <path>, got 2: see session-fetch api --help\n',
    })
  }, 120_000)

  test('--help of the program and of each command prints the help generated from the table of commands', async () => {
    const { env } = await setup()
    for (const command of [
      undefined,
      ...COMMANDS.map((known) => known.name).filter((name) => name !== 'help'),
    ]) {
      const help = await cli(command === undefined ? ['--help'] : [command, '--help'], env)
      expect(help).toEqual({ code: 0, stdout: helpText(command), stderr: '' })
    }
    // No command: the same help, on stderr, as a usage error.
    expect(await cli([], env)).toEqual({ code: 2, stdout: '', stderr: helpText() })
  }, 120_000)
})

/** Another origin that records what reaches it: where a planted profile sends the command. */
async function attackerServer() {
  const received: { method: string; url: string; body: string }[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk))
    request.on('end', () => {
      received.push({ method: request.method ?? '', url: request.url ?? '', body })
      response.writeHead(201, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ access_token: 'stolen', refresh_token: 'stolen', expires_in: 60 }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, received, close: () => new Promise((resolve) => server.close(resolve)) }
}

describe('only the user’s own files', () => {
  test('a state folder another user made, with a profile naming their server: refused, and the password never reaches it', async () => {
    const attacker = await attackerServer()
    try {
      const state = await tempFolder('cli')
      const folder = join(state, 'session-fetch')
      await mkdir(folder)
      const profile = join(folder, 'default.profile.json')
      await writeFile(profile, JSON.stringify({ baseURL: attacker.url, email: DEMO_USER.email_address }))
      const env = { XDG_STATE_HOME: state, HOME: state, PLANTLY_PASSWORD: DEMO_USER.password }
      let run: Run
      if (isRoot) {
        // As it happens: uid 4242 made the folder 1777 (so that others can use it) and put its profile there;
        // uid 4243 runs the command.
        await chmod(state, 0o755)
        await chmod(folder, 0o1777)
        await chmod(profile, 0o644)
        await giveTo(profile, ATTACKER_UID)
        await giveTo(folder, ATTACKER_UID)
        run = await cli(['login', '--email', DEMO_USER.email_address], env, '', { uid: VICTIM_UID })
        expect(attacker.received).toEqual([]) // the password went nowhere
        expect(run.stderr).toMatch(
          new RegExp(
            `The folder "${folder}" of the profile file "${profile}" belongs to another user \\(uid ${ATTACKER_UID}; you are uid ${VICTIM_UID}\\): refusing to use it; remove it .*chown it to yourself and chmod 700 it`,
          ),
        )
      } else {
        // A normal user cannot stage another user's folder (see test/stores/file/file-hostile.test.ts); a folder
        // of their own that everyone can write to is the same risk, refused the same way.
        await chmod(folder, 0o1777)
        run = await cli(['login', '--email', DEMO_USER.email_address], env)
        expect(attacker.received).toEqual([])
        expect(run.stderr).toMatch(
          /can be written by other users \(mode 1777\): refusing to use it; chmod 700 it/,
        )
      }
      expect(run.code).toBe(1)
      expect(run.stderr.trim().split('\n')).toHaveLength(1)
      expect(attacker.received).toEqual([])
      expect(await readdir(folder)).toEqual(['default.profile.json'])
    } finally {
      await attacker.close()
    }
  }, 120_000)

  test('a profile file others can write, a link or a FIFO at its path: refused (one line, exit 1), never read', async () => {
    const { server, env, folder, login } = await setup()
    await login()
    const profile = join(folder, 'default.profile.json')
    const attacker = await attackerServer()
    try {
      await writeFile(profile, JSON.stringify({ baseURL: attacker.url }))
      await chmod(profile, 0o666)
      const writable = await cli(['api', '/buyers'], env)
      expect(writable).toMatchObject({ code: 1, stdout: '' })
      expect(writable.stderr).toMatch(
        /profile file .* can be written by other users \(mode 0666\).*chmod 600 it/,
      )

      await rm(profile)
      const elsewhere = join(await tempFolder('elsewhere'), 'profile.json')
      await writeFile(elsewhere, JSON.stringify({ baseURL: attacker.url }), { mode: 0o600 })
      await symlink(elsewhere, profile)
      const linked = await cli(['api', '/buyers'], env)
      expect(linked.code).toBe(1)
      expect(linked.stderr).toMatch(/profile file .* is a symbolic link, not a file: refusing to use it/)

      await rm(profile)
      await promisify(execFile)('mkfifo', ['-m', '600', profile])
      const fifo = await cli(['status'], env)
      expect(fifo.code).toBe(1)
      expect(fifo.stderr).toMatch(/profile file .* is a FIFO \(named pipe\), not a file: refusing to use it/)
      expect(attacker.received).toEqual([])
      expect(server.log).toEqual([])
    } finally {
      await attacker.close()
    }
  }, 120_000)
})

describe('lock waits', () => {
  test.each(['api', 'logout'])(
    '`%s` says what it waits for once a wait for the session lock passes a second',
    async (command) => {
      const { server, env, folder, login } = await setup()
      await login()
      const lock = join(folder, 'default.json.lock')
      // A lock with its lease end a year ahead, from a process of another host.
      const year = 365 * 24 * 3_600_000
      await writeFile(
        lock,
        JSON.stringify({ owner: 'far', pid: 77, host: 'elsewhere.example', until: Date.now() + year }),
        {
          mode: 0o600,
        },
      )
      server.mock.expireAccessTokens()
      let waiting = false
      const running = cli(command === 'api' ? ['api', '/buyers'] : ['logout'], env, '', {
        onStderr: (stderr) => {
          waiting ||= stderr.includes('waiting for')
        },
      })
      await until(() => waiting, 'the waiting line', 60_000)
      await rm(lock) // the holder lets go
      const run = await running
      expect(run.code).toBe(0)
      const lines = run.stderr.trim().split('\n')
      expect(lines[0]).toBe(
        `session-fetch: waiting for the session lock held by pid 77 on elsewhere.example (${lock}; at most 1m 0s)…`,
      )
      expect(lines.filter((line) => line.includes('waiting for'))).toHaveLength(1)
      expect(server.counters.reuseDetected).toBe(0)
    },
    120_000,
  )
})
