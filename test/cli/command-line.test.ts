import { describe, expect, test } from 'vitest'
import { parseCommandLine } from '../../src/cli/command-line.js'
import { COMMANDS, GLOBAL_OPTIONS, type OptionSpec } from '../../src/cli/commands.js'
import { CliError, EXIT } from '../../src/cli/exit.js'
import { helpText } from '../../src/cli/help.js'

// The command line as the table in src/cli/commands.ts says it: what parseCommandLine reads from it, what it
// refuses (a usage error naming what was written), and the help generated from the same table. The command as a
// process (exit codes, stderr) is in cli.test.ts.

/** The usage error a command line gets, as the command prints it (without the `session-fetch: ` prefix). */
function refused(args: string[]): string {
  try {
    parseCommandLine(args)
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.usage) return `${error.message}: ${error.hint}`
    throw error
  }
  throw new Error(`accepted: ${args.join(' ')}`)
}

const GLOBAL: readonly OptionSpec[] = GLOBAL_OPTIONS

test('every long and every short name means one thing: one tokenizer configuration reads every command', () => {
  // A name several commands share (`--json`) is declared the same way by each.
  const options = [...GLOBAL, ...COMMANDS.flatMap((command): readonly OptionSpec[] => command.options)]
  const meaning = new Map<string, string>()
  for (const option of options) {
    const said = JSON.stringify([option.name, option.short, option.value === undefined])
    for (const name of [`--${option.name}`, ...(option.short ? [`-${option.short}`] : [])]) {
      expect(meaning.get(name) ?? said, name).toBe(said)
      meaning.set(name, said)
    }
  }
  expect(meaning.size).toBeGreaterThan(20)
  // Within one command (its options and the global ones) every name is one option's.
  for (const command of COMMANDS) {
    const own = [...GLOBAL, ...(command.options as readonly OptionSpec[])].flatMap((option) => [
      `--${option.name}`,
      ...(option.short ? [`-${option.short}`] : []),
    ])
    expect(new Set(own).size, command.name).toBe(own.length)
  }
})

describe('what it reads', () => {
  test('the command, its argument, its options and the global ones (before or after it), with the defaults', () => {
    expect(
      parseCommandLine([
        '--profile',
        'work',
        'api',
        '-X',
        'PUT',
        '/plants',
        '-d',
        '{}',
        '-H',
        'a: 1',
        '--header=b: 2',
        '-iHc: 3',
        '--base-url',
        'http://127.0.0.1:1',
      ]),
    ).toEqual({
      command: 'api',
      argument: '/plants',
      options: {
        profile: 'work',
        'base-url': 'http://127.0.0.1:1',
        verbose: false,
        version: false,
        help: false,
        request: 'PUT',
        data: '{}',
        'raw-field': [],
        field: [],
        header: ['a: 1', 'b: 2', 'c: 3'],
        include: true,
        silent: false,
        'no-follow': false,
      },
    })
    // --profile has no default here: the command reads SESSION_FETCH_PROFILE, then uses "default".
    expect(parseCommandLine(['status'])).toEqual({
      command: 'status',
      argument: undefined,
      options: { verbose: false, version: false, help: false, json: false },
    })
    // The last of an option given twice counts (a repeatable one keeps them all, above).
    expect(parseCommandLine(['login', '--email', 'a@x', '--email=b@x', '--verbose'])?.options).toMatchObject({
      email: 'b@x',
      verbose: true,
    })
  })

  test('-d and -H take the next word even when it starts with "-"; another option’s value does only as --name=-…', () => {
    expect(
      parseCommandLine(['api', '/n', '-X', 'PUT', '-d', '-1', '-H', '-x-odd: 1'])?.options,
    ).toMatchObject({
      data: '-1',
      header: ['-x-odd: 1'],
    })
    expect(parseCommandLine(['api', '/n', '--data', '--verbose'])?.options).toMatchObject({
      data: '--verbose',
      verbose: false,
    })
    expect(refused(['login', '--email', '--verbose'])).toBe(
      '--email <email>: missing its value (one starting with "-" is written --email=-…): see session-fetch login --help',
    )
    expect(parseCommandLine(['login', '--email=-me@x'])?.options).toMatchObject({ email: '-me@x' })
    expect(refused(['api', '/n', '-X', '-d', 'x'])).toBe(
      '-X <method>: missing its value (one starting with "-" is written --request=-…): see session-fetch api --help',
    )
    expect(refused(['api', '/n', '-d'])).toBe('-d <data>: missing its value: see session-fetch api --help')
    expect(refused(['--profile'])).toBe('--profile <name>: missing its value: see session-fetch --help')
  })

  test('`--` ends the options: what follows is an argument, even `-i` or `--help`', () => {
    expect(parseCommandLine(['api', '-X', 'POST', '--', '/plants'])).toMatchObject({
      argument: '/plants',
      options: { request: 'POST' },
    })
    expect(parseCommandLine(['api', '--', '-i'])).toMatchObject({
      argument: '-i',
      options: { include: false },
    })
    expect(refused(['api', '/x', '--', '--help'])).toBe(
      'api: expected one argument, <path>, got 2: see session-fetch api --help',
    )
  })

  test('--help or -h anywhere before `--`, or `help [command]`, asks for that command’s help (over any other error)', () => {
    const help = (argument: string | undefined) => ({ command: 'help', argument })
    expect(parseCommandLine(['--help'])).toMatchObject(help(undefined))
    expect(parseCommandLine(['-h'])).toMatchObject(help(undefined))
    expect(parseCommandLine(['api', '--bogus', '--help'])).toMatchObject(help('api'))
    expect(parseCommandLine(['-h', 'login'])).toMatchObject(help('login'))
    expect(parseCommandLine(['help', 'status'])).toMatchObject(help('status'))
    expect(parseCommandLine(['help'])).toMatchObject(help(undefined))
    expect(refused(['help', 'stauts'])).toBe(
      'unknown command "stauts" (did you mean status?): see session-fetch --help',
    )
    expect(parseCommandLine([])).toBeUndefined() // the command prints the help as a usage error
    expect(parseCommandLine(['--verbose'])).toBeUndefined()
  })
})

describe('what it refuses: a usage error naming what was written', () => {
  test.each([
    [
      ['api', '/x', '--heder', 'a: 1'],
      'unknown option --heder (did you mean --header?): see session-fetch api --help',
    ],
    [
      ['login', '--emial', 'me@x'],
      'unknown option --emial (did you mean --email?): see session-fetch login --help',
    ],
    [['api', '/x', '-x', 'PUT'], 'unknown option -x (did you mean -X?): see session-fetch api --help'],
    [
      ['--profle', 'work', 'status'],
      'unknown option --profle (did you mean --profile?): see session-fetch --help',
    ],
    [
      ['api', '/x', '--no-include'],
      'unknown option --no-include (did you mean --include?): see session-fetch api --help',
    ],
    // Nothing close: no guess.
    [['api', '/x', '--bogus'], 'unknown option --bogus: see session-fetch api --help'],
    [['api', '/x', '-z'], 'unknown option -z: see session-fetch api --help'],
    [['--bogus', 'v', 'status'], 'unknown option --bogus: see session-fetch --help'],
    // Known, but not here.
    [
      ['status', '--email', 'me@x'],
      '--email is an option of login, not of status: see session-fetch status --help',
    ],
    [
      ['-X', 'POST', 'api', '/x'],
      '-X is an option of api: put it after the command: see session-fetch api --help',
    ],
    [['--verbose=yes', 'status'], '--verbose takes no value: see session-fetch status --help'],
    [
      ['logout', '--json'],
      '--json is an option of token, status and profiles, not of logout: see session-fetch logout --help',
    ],
    [['stauts'], 'unknown command "stauts" (did you mean status?): see session-fetch --help'],
    [['nope'], 'unknown command "nope": see session-fetch --help'],
    [['api'], 'api: missing the argument <path>: see session-fetch api --help'],
    [['status', 'extra'], 'status: expected no argument, got 1: see session-fetch status --help'],
    [['api', '/a', '/b'], 'api: expected one argument, <path>, got 2: see session-fetch api --help'],
  ])('%j', (args, said) => {
    expect(refused(args)).toBe(said)
  })

  test('never an option’s value: it may be a secret', () => {
    const said = refused([
      'api',
      '/x',
      '--token=S3cr3t-hunter2',
      '-H',
      'Authorization: Bearer S3cr3t-hunter2',
    ])
    expect(said).toBe('unknown option --token: see session-fetch api --help')
    expect(refused(['status', '--verbose=S3cr3t-hunter2'])).not.toContain('S3cr3t')
  })
})

/** Whitespace folded: the help wraps its lines, and a row reads "term description" once folded. */
const folded = (text: string) => text.replace(/\s+/g, ' ')

function term(option: OptionSpec): string {
  const names = option.short === undefined ? `--${option.name}` : `-${option.short}, --${option.name}`
  return option.value === undefined ? names : `${names} <${option.value}>`
}

describe('the help, generated from the same table', () => {
  test.each(
    COMMANDS.filter((command) => command.name !== 'help').map((command) => [command.name, command] as const),
  )(
    '`%s --help`: its usage, description, argument and every option (its own, then the global ones) with its help',
    (_name, command) => {
      const text = helpText(command.name)
      const argument = 'argument' in command ? ` <${command.argument.name}>` : ''
      expect(text.split('\n')[0]).toBe(`Usage: session-fetch ${command.name} [options]${argument}`)
      expect(folded(text)).toContain(folded(command.help))
      if ('argument' in command)
        expect(folded(text)).toContain(`${command.argument.name} ${command.argument.help}`)
      const own = folded(text.slice(text.indexOf('\nOptions:'), text.indexOf('\nGlobal Options:')))
      const global = folded(text.slice(text.indexOf('\nGlobal Options:')))
      for (const option of command.options as readonly OptionSpec[]) {
        expect(own).toContain(`${term(option)} ${option.help}`)
      }
      expect(own).toContain('-h, --help display help for command')
      for (const option of GLOBAL.filter((option) => option.name !== 'help')) {
        const fallback = option.default === undefined ? '' : ` (default: "${option.default}")`
        expect(global).toContain(`${term(option)} ${option.help}${fallback}`)
      }
      for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80)
    },
  )

  test('`--help`: every command with its argument and description, every global option', () => {
    const text = helpText()
    expect(text.split('\n')[0]).toBe('Usage: session-fetch [options] [command]')
    for (const command of COMMANDS) expect(folded(text)).toContain(folded(command.help))
    expect(folded(text)).toContain('api [options] <path> call the API')
    expect(folded(text)).toContain('help [command] display help for command')
    for (const option of GLOBAL) expect(folded(text)).toContain(`${term(option)} ${option.help}`)
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80)
  })

  test('wrapped at the terminal’s width (never narrower than 50 columns); a term longer than half the page stands alone', () => {
    for (const columns of [50, 60, 120]) {
      const text = helpText('api', columns)
      // A longer line is one word that no wrapping can shorten.
      for (const line of text.split('\n')) {
        if (line.length > columns) expect(line.trim(), `${columns}: ${line}`).not.toContain(' ')
      }
      expect(folded(text)).toContain(folded(helpText('api')).split('Options:')[0]?.slice(0, 30))
    }
    expect(
      Math.max(
        ...helpText(undefined, 120)
          .split('\n')
          .map((line) => line.length),
      ),
    ).toBeGreaterThan(80)
    expect(helpText('api', 10)).toBe(helpText('api', 50))
    expect(helpText('api', 50)).toMatch(/\n {2}-f, --raw-field <key=value>\n {27}a string field/)
  })

  test('--version anywhere (before `--`) asks for the version, as `version` does', () => {
    expect(parseCommandLine(['--version'])).toMatchObject({ command: 'version' })
    expect(parseCommandLine(['api', '/x', '--version'])).toMatchObject({ command: 'version' })
    expect(parseCommandLine(['version'])).toMatchObject({ command: 'version' })
    expect(parseCommandLine(['--version', '--help'])).toMatchObject({ command: 'help' })
  })

  test('the layout: usage, description, then aligned lists wrapped at 80 columns', () => {
    expect(helpText('status')).toBe(
      [
        'Usage: session-fetch status [options]',
        '',
        'who is logged in where, and when the access token expires (never the tokens)',
        '',
        'Options:',
        '  --json                       print it as one JSON object',
        '  --check <path>               make one authenticated GET to this path: does the',
        '                               server still accept the session?',
        '  -h, --help                   display help for command',
        '',
        'Global Options:',
        '  --profile <name>             the stored session to use (or',
        '                               SESSION_FETCH_PROFILE; default "default")',
        '  --base-url <url>             the API base URL (or SESSION_FETCH_BASE_URL);',
        '                               remembered per profile at login',
        '  --encryption-key-env <name>  seal the session file with the 32-byte key in',
        '                               this environment variable (base64 or hex), as',
        '                               fileStore({ encryptionKey }) does',
        '  -v, --verbose                trace requests, responses and session events on',
        '                               stderr (tokens redacted); stack traces of errors',
        '  --version                    print the version',
        '',
      ].join('\n'),
    )
  })

  test('every option the help lists is one the parser reads, long and short', () => {
    for (const command of COMMANDS.filter((command) => command.name !== 'help')) {
      const argument = 'argument' in command ? ['/x'] : []
      for (const option of [...GLOBAL, ...(command.options as readonly OptionSpec[])]) {
        if (option.name === 'help') continue
        const forms =
          option.short === undefined ? [`--${option.name}`] : [`--${option.name}`, `-${option.short}`]
        for (const form of forms) {
          const args = [command.name, ...argument, form, ...(option.value === undefined ? [] : ['v'])]
          const read = parseCommandLine(args)?.options as Record<string, unknown> | undefined
          expect(read?.[option.name], args.join(' ')).toEqual(
            option.value === undefined ? true : option.repeatable ? ['v'] : 'v',
          )
        }
      }
    }
  })
})
