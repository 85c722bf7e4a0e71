import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DURATION_PATTERN } from '../../src/cli/duration.js'
import { cli, command, runProgram, setup, tokens } from '../helpers/cli.js'
import { tempFolder } from '../helpers/file-store.js'
import { DEMO_USER, recordRequests } from '../helpers/mock-server.js'

// curl's and gh's habits on `api`: -o, -s, --no-follow and each hop with -i, --retry, -v, -f/-F; shell
// completion (bash here; zsh and fish in cli-completion-shells.test.ts); help at the terminal's width. Real processes against the mock over HTTP, as in cli.test.ts.

const echoed = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>

describe('api, as curl has it', () => {
  test('-o FILE writes the body there (stdout empty), even an error’s; -o - is stdout', async () => {
    const { server, env, login } = await setup()
    await login()
    const file = join(await tempFolder('output'), 'buyers.json')
    const run = await cli(['api', '/buyers', '-o', file], env)
    expect(run).toEqual({ code: 0, stdout: '', stderr: '' })
    expect(echoed(await readFile(file, 'utf8'))).toMatchObject({ path: '/buyers', method: 'GET' })
    server.inject({ on: 'api', status: 500, body: { error: 'boom' } })
    expect(await cli(['api', '/buyers', '-o', file, '-i'], env)).toMatchObject({ code: 1, stdout: '' })
    const written = await readFile(file, 'utf8')
    expect(written).toMatch(/^HTTP 500 Internal Server Error\n/) // -i's head goes where the body goes
    expect(written).toContain('{"error":"boom"}')
    expect(echoed((await cli(['api', '/buyers', '-o', '-'], env)).stdout)).toMatchObject({ path: '/buyers' })
    const unwritable = await cli(['api', '/buyers', '-o', '/no/such/folder/x'], env)
    expect(unwritable).toEqual({
      code: 1,
      stdout: '',
      stderr: 'session-fetch: -o /no/such/folder/x: cannot write the file (ENOENT)\n',
    })
  }, 120_000)

  test('--no-follow gives the redirect itself; -i shows each hop’s status line', async () => {
    const { server, env, login } = await setup()
    await login()
    server.inject({ on: 'api', status: 302, headers: { location: '/landed' } })
    const followed = await cli(['api', '/moved', '-i'], env)
    expect(followed.code).toBe(0)
    const heads = followed.stdout.split('\n\n')
    expect(heads[0]).toMatch(/^HTTP 302 Found\n/)
    expect(heads[0]).toMatch(/^location: \/landed$/m)
    expect(heads[1]).toMatch(/^HTTP 200 OK\n/)
    expect(echoed(heads[2] ?? '')).toMatchObject({ path: '/landed' })

    server.inject({ on: 'api', status: 302, headers: { location: '/landed' } })
    const before = server.log.length
    const kept = await cli(['api', '/moved', '--no-follow', '-i'], env)
    expect(kept.code).toBe(0) // a 3xx is no error
    expect(kept.stdout).toMatch(/^HTTP 302 Found\n/)
    expect(kept.stdout).not.toContain('HTTP 200')
    expect(server.log.length).toBe(before) // /landed was not asked for (the 302 was a fault, not logged)
  }, 120_000)

  test('--retry N sends again after a 429 or 5xx, as Retry-After says; -s says nothing on stderr', async () => {
    const { server, env, login } = await setup()
    await login()
    const unavailable = {
      on: 'api',
      status: 503,
      headers: { 'retry-after': '0' },
      body: { busy: true },
    } as const
    server.inject({ ...unavailable, times: 2 })
    const retried = await cli(['api', '/buyers', '--retry', '2'], env)
    expect(retried.code).toBe(0)
    expect(echoed(retried.stdout)).toMatchObject({ ok: true })
    expect(retried.stderr).toBe(
      [
        'session-fetch: HTTP 503; trying again in 0s (2 tries left)',
        'session-fetch: HTTP 503; trying again in 0s (1 try left)',
        '',
      ].join('\n'),
    )
    expect(server.counters.faultsServed).toBe(2)

    server.inject({ ...unavailable, status: 429, times: 2 })
    const exhausted = await cli(['api', '/buyers', '--retry', '1', '-s'], env)
    expect(exhausted).toEqual({ code: 1, stdout: '{"busy":true}', stderr: '' })
    expect(server.counters.faultsServed).toBe(4)

    server.inject({ ...unavailable, status: 404 }) // not retried
    expect((await cli(['api', '/buyers', '--retry', '3'], env)).stderr).toBe('')
    expect((await cli(['api', '/buyers', '--retry', 'lots'], env)).code).toBe(2)
    // -s: no error line either; the exit code tells.
    expect(await cli(['api', '/buyers', '-s'], { ...env, SESSION_FETCH_PROFILE: 'none' })).toEqual({
      code: 3,
      stdout: '',
      stderr: '',
    })
  }, 120_000)

  test('-v traces requests, responses and the session’s refresh and replay on stderr, tokens redacted', async () => {
    const { server, env, folder, login } = await setup()
    await login()
    const old = await tokens(folder)
    server.mock.expireAccessTokens() // the next call is refused, refreshes and is replayed
    const run = await cli(['api', '/buyers', '-v', '-H', 'x-api-key: k3y-S3cr3t-abcdef'], env)
    expect(run.code).toBe(0)
    expect(echoed(run.stdout)).toMatchObject({ ok: true })
    const lines = run.stderr.split('\n')
    expect(lines).toContain(`> GET ${server.url}/buyers`)
    expect(lines).toContain('> authorization: Bearer [redacted]')
    expect(lines).toContain('< HTTP 401 Unauthorized')
    expect(lines).toContain(`> PUT ${server.url}/auth/sessions`)
    expect(lines).toContain('< HTTP 200 OK')
    const refreshed = new RegExp(`^\\* session refreshed: the access token expires in ${DURATION_PATTERN}$`)
    expect(lines.filter((line) => refreshed.test(line))).toHaveLength(1)
    // A credential the caller sends in a header of its own is not shown either.
    expect(lines).toContain('> x-api-key: [redacted]')
    expect(run.stderr).not.toContain('k3y-S3cr3t')
    expect(lines).toContain('* replaying the request with the new token')
    expect(lines.filter((line) => line === `> GET ${server.url}/buyers`)).toHaveLength(2)
    for (const token of [...old, ...(await tokens(folder))]) expect(run.stderr).not.toContain(token)
    expect(server.counters.refreshes).toBe(1)
    // The session call itself, as observe() tells it: why, who waited, its answer, how it ended.
    const call = new RegExp(
      `^\\* session-fetch refresh: trigger unauthorized, 1 waiting, HTTP 200, ok in ${SECONDS}$`,
    )
    expect(lines.filter((line) => call.test(line))).toHaveLength(1)
  }, 120_000)

  test('-v across an expiry: the refresh with its trigger, the wait for it, a refused refresh; no token or password', async () => {
    const password = 'pw-Only-In-The-Login-9f3a'
    // A 1 s access token, expired once a second has passed: the next request waits for a refresh.
    const { server, env, folder, login } = await setup({
      accessTtlSeconds: 1,
      users: { [DEMO_USER.email_address]: password },
    })
    expect((await login([], { PLANTLY_PASSWORD: password })).code).toBe(0)
    const old = await tokens(folder)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const run = await cli(['api', '/buyers', '-v'], env)
    expect(run.code).toBe(0)
    expect(server.counters.refreshes).toBe(1)
    const lines = run.stderr.split('\n')
    const refresh = new RegExp(
      `^\\* session-fetch refresh: trigger due, 1 waiting, HTTP 200, ok in ${SECONDS}$`,
    )
    expect(lines.filter((line) => refresh.test(line))).toHaveLength(1)
    const waited = new RegExp(`^\\* waited ${SECONDS} for a token$`)
    expect(lines.filter((line) => waited.test(line))).toHaveLength(1)
    // In order: the refresh's exchange, the call's line, the wait, then the request with the new token.
    const at = (test: (line: string) => boolean) => lines.findIndex(test)
    expect(at((line) => line === `> PUT ${server.url}/auth/sessions`)).toBeLessThan(
      at((l) => refresh.test(l)),
    )
    expect(at((line) => waited.test(line))).toBeLessThan(at((line) => line === `> GET ${server.url}/buyers`))

    // A refresh the server refuses: its outcome and why, its status.
    server.mock.revokeAll()
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const refused = await cli(['api', '/buyers', '-v'], env)
    expect(refused.code).toBe(3)
    const rejected = new RegExp(
      `^\\* session-fetch refresh: trigger due, 1 waiting, HTTP 401, rejected \\(refresh_rejected\\) in ${SECONDS}$`,
    )
    expect(refused.stderr.split('\n').filter((line) => rejected.test(line))).toHaveLength(1)

    const secrets = [...old, ...(await tokens(folder)), password]
    expect(secrets.length).toBeGreaterThanOrEqual(3)
    for (const secret of secrets) {
      expect(run.stderr).not.toContain(secret)
      expect(refused.stderr).not.toContain(secret)
    }
  }, 120_000)

  test('without -v nothing of the session calls is said', async () => {
    const { server, env, login } = await setup({ accessTtlSeconds: 1 })
    expect((await login()).code).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const run = await cli(['api', '/buyers'], env)
    expect(run.code).toBe(0)
    expect(server.counters.refreshes).toBe(1)
    expect(run.stderr).toBe('')
  }, 120_000)
})

const SECONDS = '\\d+\\.\\d\\d s'

describe('api, as gh has it: fields', () => {
  test('-f (string) and -F (typed, @file): a JSON body with POST, query parameters with -X GET', async () => {
    const { server, env, login } = await setup()
    await login()
    const received = recordRequests(server)
    const note = join(await tempFolder('field'), 'note.txt')
    await writeFile(note, 'from a file')
    const posted = await cli(
      [
        'api',
        '/plants',
        '-f',
        'name=fern',
        '-f',
        'count=3',
        '-F',
        'height=12.5',
        '-F',
        'indoor=true',
        '-F',
        'owner=null',
        '-F',
        `note=@${note}`,
        '-F',
        'id=12345678901234567890',
        '-f',
        'tags[]=green',
        '-F',
        'tags[]=7',
        '-F',
        'size[h]=3',
        '-f',
        'size[unit]=cm',
      ],
      env,
    )
    expect(posted.code).toBe(0)
    expect(echoed(posted.stdout)).toMatchObject({ method: 'POST', contentType: 'application/json' })
    const body = received.find((request) => request.path === '/plants')?.body ?? ''
    expect(JSON.parse(body)).toEqual({
      name: 'fern',
      count: '3', // -f: always a string
      height: 12.5,
      indoor: true,
      owner: null,
      note: 'from a file',
      id: '12345678901234567890', // past 2^53: kept as written
      tags: ['green', 7], // gh's nesting: key[] appends, key[sub] is a member
      size: { h: 3, unit: 'cm' },
    })

    const got = await cli(['api', '/plants?page=2', '-X', 'GET', '-f', 'q=a b', '-F', 'limit=5'], env)
    expect(got.code).toBe(0)
    expect(echoed(got.stdout)).toMatchObject({ method: 'GET', path: '/plants', bodyLength: 0 })
    expect(received.at(-1)?.path).toBe('/plants?page=2&q=a+b&limit=5')

    for (const [args, said] of [
      [['-f', 'novalue'], '-f: expected key=value'],
      [['-d', '{}', '-f', 'a=1'], '-d and -f/-F: give the body one way (fields make a JSON body)'],
      [['-F', 'a=@/no/such/file'], '-F a=@/no/such/file: cannot read the file (ENOENT)'],
      [
        ['-f', 'a=1', '-F', 'a[b]=2'],
        '-f/-F a[b]: the field is given twice, or as both a value and an object or array',
      ],
    ] as const) {
      expect(await cli(['api', '/plants', ...args], env)).toEqual({
        code: 2,
        stdout: '',
        stderr: `session-fetch: ${said}\n`,
      })
    }
  }, 120_000)
})

describe('completion', () => {
  test('bash: the script completes commands, a command’s options and the global ones, and profiles', async () => {
    const { env, login } = await setup()
    await login()
    const script = await cli(['completion', 'bash'], env)
    expect(script.code).toBe(0)
    const complete = async (...words: string[]) => {
      const program = `eval "$(cat)"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _session_fetch; printf '%s\\n' "\${COMPREPLY[@]}"`
      const { stdout } = await runProgram('bash', ['-c', program], script.stdout, env)
      return stdout.trim().split('\n')
    }
    expect(await complete('session-fetch', 'to')).toEqual(['token'])
    expect(await complete('session-fetch', 'api', '/x', '--re')).toEqual(['--request', '--retry'])
    expect(await complete('session-fetch', 'status', '--')).toContain('--check')
    expect(await complete('session-fetch', 'status', '--')).toContain('--profile')
    expect(await complete('session-fetch', 'status', '--')).not.toContain('--retry')
    expect(await complete('session-fetch', '--profile', 'de')).toEqual(['default'])
    expect(await complete('session-fetch', 'completion', 'f')).toEqual(['fish'])
    expect(await cli(['completion', 'tcsh'], env)).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'session-fetch: completion: expected bash, zsh or fish, got "tcsh": see session-fetch completion --help\n',
    })
  }, 120_000)
})

test('--help wraps at the terminal’s width (a pty of 60 columns)', async () => {
  const { env } = await setup()
  const line = command(['api', '--help'])
    .map((w) => `'${w}'`)
    .join(' ')
  const { stdout } = await runProgram(
    'script',
    ['-qec', `stty cols 60 rows 40; ${line}`, '/dev/null'],
    '',
    env,
  )
  const lines = stdout.replace(/\r/g, '').split('\n')
  expect(lines[0]).toBe('Usage: session-fetch api [options] <path>')
  expect(lines.some((line) => line.length > 50)).toBe(true)
  for (const line of lines) if (line.length > 60) expect(line.trim()).not.toContain(' ')
}, 120_000)
