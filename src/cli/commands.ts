/**
 * The command line, said once: every command, argument and option with its help. The parser's configuration
 * (command-line.ts) and the `--help` text (help.ts) are both generated from this table.
 */

/** An option: `--name` (and `-s`), a flag or one that takes a value. */
export interface OptionSpec {
  /** The long name, without its dashes: `base-url` for `--base-url`. */
  readonly name: string
  /** The one-letter form, without its dash: `X` for `-X`. */
  readonly short?: string
  /** What the value is called in the help (`url` shows as `<url>`); a flag has none. */
  readonly value?: string
  /** Given more than once, every value is kept (in order); otherwise the last one counts. */
  readonly repeatable?: true
  /**
   * The next argument is this option's value even when it starts with "-" (`-d -1`, `-H '-x-odd: 1'`), as curl
   * takes it. Without this, an option followed by a "-"-word is missing its value (`--email --verbose`): its value
   * can still start with "-" when written in the same word (`--email=-x`).
   */
  readonly dashValue?: true
  /** The value when the option is not given. */
  readonly default?: string
  readonly help: string
}

/** A command: its one argument (if any) and its own options; the global options apply to every command. */
export interface CommandSpec {
  readonly name: string
  readonly argument?: { readonly name: string; readonly required: boolean; readonly help?: string }
  readonly options: readonly OptionSpec[]
  readonly help: string
}

const HELP = {
  name: 'help',
  short: 'h',
  help: 'display help for command',
} as const satisfies OptionSpec

/** Options every command takes, before or after the command's name. */
export const GLOBAL_OPTIONS = [
  {
    name: 'profile',
    value: 'name',
    help: 'the stored session to use (or SESSION_FETCH_PROFILE; default "default")',
  },
  {
    name: 'base-url',
    value: 'url',
    help: 'the API base URL (or SESSION_FETCH_BASE_URL); remembered per profile at login',
  },
  {
    name: 'encryption-key-env',
    value: 'name',
    help: 'seal the session file with the 32-byte key in this environment variable (base64 or hex), as fileStore({ encryptionKey }) does',
  },
  {
    name: 'verbose',
    short: 'v',
    help: 'trace requests, responses and session events on stderr (tokens redacted); stack traces of errors',
  },
  { name: 'version', help: 'print the version' },
  HELP,
] as const satisfies readonly OptionSpec[]

export const COMMANDS = [
  {
    name: 'login',
    help:
      'log in and keep the session (password: PLANTLY_PASSWORD, --password-stdin, a hidden prompt that names ' +
      'where it goes, or stdin’s first line)',
    options: [
      {
        name: 'email',
        value: 'email',
        help: 'the account’s email address (or PLANTLY_EMAIL; asked for when missing, on a terminal)',
      },
      {
        name: 'password-stdin',
        help: 'read the password from stdin’s first line, never from a prompt (for CI)',
      },
      {
        name: 'store',
        value: 'keychain|file',
        help: 'where the session lives, remembered for the profile: the OS keychain, or a 0600 file (default: the keychain where one is available, else the file)',
      },
    ],
  },
  {
    name: 'api',
    help: 'call the API with the session (like curl): the body on stdout, JSON pretty-printed on a terminal',
    argument: { name: 'path', required: true, help: 'the path below the base URL, e.g. /buyers' },
    options: [
      {
        name: 'request',
        short: 'X',
        value: 'method',
        help: 'the HTTP method (default GET, or POST with -d, -f or -F)',
      },
      {
        name: 'data',
        short: 'd',
        value: 'data',
        dashValue: true,
        help: 'the request body: a string, @file for a file’s bytes, @- for stdin',
      },
      {
        name: 'raw-field',
        short: 'f',
        value: 'key=value',
        repeatable: true,
        dashValue: true,
        help: 'a string field (repeatable): a query parameter with -X GET, else a member of a JSON body',
      },
      {
        name: 'field',
        short: 'F',
        value: 'key=value',
        repeatable: true,
        dashValue: true,
        help: 'a typed field (repeatable): true, false, null and numbers as JSON, @file a file’s text, @- stdin',
      },
      {
        name: 'header',
        short: 'H',
        value: 'header',
        repeatable: true,
        dashValue: true,
        help: 'a request header "Name: value" (repeatable)',
      },
      {
        name: 'include',
        short: 'i',
        help: 'print the status line and the response headers before the body (each redirect’s too)',
      },
      {
        name: 'output',
        short: 'o',
        value: 'file',
        help: 'write the body to this file instead of stdout (- for stdout)',
      },
      {
        name: 'silent',
        short: 's',
        help: 'say nothing on stderr (errors, waits, retries): the exit code tells',
      },
      {
        name: 'no-follow',
        help: 'do not follow redirects: the 3xx answer is the result',
      },
      {
        name: 'retry',
        value: 'n',
        help: 'send again up to n times after a 429 or 5xx answer, waiting as Retry-After says (else 1s, 2s, 4s…)',
      },
    ],
  },
  {
    name: 'token',
    help: 'print a valid access token for scripts (refreshed first when due), nothing else on stdout',
    options: [
      {
        name: 'json',
        help: 'print { "access_token", "expires_at", "token_type" } instead',
      },
    ],
  },
  {
    name: 'status',
    help: 'who is logged in where, and when the access token expires (never the tokens)',
    options: [
      { name: 'json', help: 'print it as one JSON object' },
      {
        name: 'check',
        value: 'path',
        help: 'make one authenticated GET to this path: does the server still accept the session?',
      },
    ],
  },
  {
    name: 'profiles',
    help: 'list the profiles: name, base URL, user and state (never the tokens)',
    options: [{ name: 'json', help: 'print them as a JSON array' }],
  },
  {
    name: 'logout',
    help: 'end the session on the server and forget it here (every process of this profile sees it)',
    options: [],
  },
  {
    name: 'completion',
    help: 'print a shell completion script: bash, zsh or fish',
    argument: { name: 'shell', required: true, help: 'bash, zsh or fish' },
    options: [],
  },
  {
    name: 'version',
    help: 'print the version',
    options: [],
  },
  {
    name: 'help',
    help: 'display help for command',
    argument: { name: 'command', required: false },
    options: [],
  },
] as const satisfies readonly CommandSpec[]

/** The program's own help: what it is, and what follows the lists. */
export const PROGRAM = {
  name: 'session-fetch',
  help:
    'Call an API with a session that stays alive: log in once, then call it like curl. The token is injected ' +
    'and refreshed, once for every process on this machine (the session lives in a file of yours).',
  epilogue: [
    'Exit codes: 0 a 2xx/3xx answer, 1 an HTTP error or a failure, 2 a usage error, 3 not logged in (or the ' +
      'server no longer accepts the session).',
    'Environment: SESSION_FETCH_PROFILE, SESSION_FETCH_BASE_URL, PLANTLY_EMAIL, PLANTLY_PASSWORD, NO_COLOR.',
    'Files: $XDG_STATE_HOME/session-fetch (else ~/.local/state/session-fetch; macOS ~/Library/Application ' +
      'Support/session-fetch; Windows %LOCALAPPDATA%\\session-fetch): <profile>.json, <profile>.profile.json.',
  ],
} as const

export type CommandName = (typeof COMMANDS)[number]['name']

type ValueOf<O extends OptionSpec> = O extends { value: string }
  ? O extends { repeatable: true }
    ? string[]
    : O extends { default: string }
      ? string
      : string | undefined
  : boolean

/** The values of a list of options, by long name: a flag is a boolean, a repeatable option a list. */
export type Values<Options extends readonly OptionSpec[]> = {
  [O in Options[number] as O['name']]: ValueOf<O>
}

/** A command line that names a command to run, with its argument and the values of its and the global options. */
export type Invocation = {
  [C in (typeof COMMANDS)[number] as C['name']]: {
    command: C['name']
    argument: C extends { argument: { required: true } } ? string : string | undefined
    options: Values<typeof GLOBAL_OPTIONS> & Values<C['options']>
  }
}[CommandName]
