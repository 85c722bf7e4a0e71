import { parseArgs } from 'node:util'
import { editDistance } from '../core/validate.js'
import {
  COMMANDS,
  type CommandSpec,
  GLOBAL_OPTIONS,
  type Invocation,
  type OptionSpec,
  PROGRAM,
} from './commands.js'
import { CliError, EXIT } from './exit.js'

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number]
type OptionToken = Extract<Token, { kind: 'option' }>
type Value = string | string[] | boolean

const GLOBAL: readonly OptionSpec[] = GLOBAL_OPTIONS

// Every option of the table, for the tokenizer: which ones take a value, and their one-letter forms. An option
// name means one thing on every command that has it (`--json`), so one configuration splits every command line.
const TOKENIZER: Record<string, { type: 'string' | 'boolean'; short?: string }> = {}
for (const option of [...GLOBAL, ...COMMANDS.flatMap((command): readonly OptionSpec[] => command.options)]) {
  const entry = {
    type: option.value === undefined ? ('boolean' as const) : ('string' as const),
    ...(option.short === undefined ? {} : { short: option.short }),
  }
  const known = TOKENIZER[option.name]
  if (known && (known.type !== entry.type || known.short !== entry.short)) {
    throw new Error(`commands.ts: --${option.name} is declared twice, differently`)
  }
  TOKENIZER[option.name] = entry
}

/**
 * Read a command line (without `node` and the script): the command to run, with its argument and options, or
 * `undefined` when it names no command. `--help` (`-h`) anywhere before `--` asks for the help of the command
 * it is given with, as `help [command]` does. Anything the table does not allow is a usage error (exit 2) naming
 * the option, command or argument as written (never an option's value), with the known one closest to it when
 * one is close.
 *
 * node:util's parseArgs splits the words (`--name=value`, `-Xvalue`, `-iH value`, `--`). It runs without
 * `strict`, whose checks would refuse `-d -1` and suggest nothing: the checks are made here, on its tokens.
 */
export function parseCommandLine(args: readonly string[]): Invocation | undefined {
  const { tokens } = parseArgs({
    args: [...args],
    options: TOKENIZER,
    strict: false,
    allowPositionals: true,
    tokens: true,
  })
  const positionals = tokens.filter((token) => token.kind === 'positional')
  const named = positionals[0]
  const command: CommandSpec | undefined = COMMANDS.find((known) => known.name === named?.value)
  if (tokens.some((token) => token.kind === 'option' && token.name === 'help')) {
    if (named && !command) throw unknownCommand(named.value)
    return helpFor(command?.name === 'help' ? positionals[1]?.value : command?.name)
  }
  if (tokens.some((token) => token.kind === 'option' && token.name === 'version')) {
    return { command: 'version', argument: undefined, options: { ...BARE, version: true } }
  }

  // In the order written: what is wrong first is what the error names.
  const values = new Map<string, Value>()
  for (const token of tokens) {
    if (token === named && !command) throw unknownCommand(named.value)
    if (token.kind !== 'option') continue
    const option = optionOf(token, command, named !== undefined && token.index > named.index)
    values.set(option.name, readValue(option, token, values.get(option.name), command))
  }
  if (!command) return undefined

  for (const option of [...GLOBAL, ...command.options]) {
    const fallback = option.value === undefined ? false : option.repeatable ? [] : option.default
    if (!values.has(option.name) && fallback !== undefined) values.set(option.name, fallback)
  }
  const rest = positionals.slice(1)
  const argument = command.argument
  if (rest.length > (argument ? 1 : 0)) {
    const expected = argument ? `one argument, <${argument.name}>` : 'no argument'
    throw usage(`${command.name}: expected ${expected}, got ${rest.length}`, command)
  }
  if (argument?.required && rest.length === 0) {
    throw usage(`${command.name}: missing the argument <${argument.name}>`, command)
  }
  if (command.name === 'help') return helpFor(rest[0]?.value)
  return {
    command: command.name,
    argument: rest[0]?.value,
    options: Object.fromEntries(values),
  } as Invocation
}

// The global options of a command line that only asks for the help or the version.
const BARE = {
  profile: undefined,
  'base-url': undefined,
  'encryption-key-env': undefined,
  verbose: false,
  version: false,
  help: false,
}

function helpFor(topic: string | undefined): Invocation {
  if (topic !== undefined && !COMMANDS.some((known) => known.name === topic)) throw unknownCommand(topic)
  return { command: 'help', argument: topic, options: { ...BARE, help: true } }
}

function unknownCommand(name: string): CliError {
  const close = closest(
    name,
    COMMANDS.map((known) => known.name),
  )
  const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name)
  return usage(`unknown command ${shown}${close ? ` (did you mean ${close}?)` : ''}`, undefined)
}

/**
 * The option a token names, if the command line allows it there: a global option anywhere, a command's own
 * after the command's name.
 */
function optionOf(token: OptionToken, command: CommandSpec | undefined, afterCommand: boolean): OptionSpec {
  const global = GLOBAL.find((option) => option.name === token.name)
  if (global) return global
  const own = command?.options.find((option: OptionSpec) => option.name === token.name)
  if (own && afterCommand) return own
  if (own && command) {
    throw usage(`${token.rawName} is an option of ${command.name}: put it after the command`, command)
  }
  const owners = COMMANDS.filter((known) => known.options.some((option) => option.name === token.name))
  if (owners.length > 0) {
    const not = command ? `, not of ${command.name}` : ''
    const names = owners.map((owner) => owner.name)
    const of = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names[0]
    throw usage(`${token.rawName} is an option of ${of}${not}`, command)
  }
  const known = [...GLOBAL, ...(command?.options ?? [])].flatMap((spec: OptionSpec) =>
    spec.short === undefined ? [`--${spec.name}`] : [`--${spec.name}`, `-${spec.short}`],
  )
  const close = closest(token.rawName, known)
  throw usage(`unknown option ${token.rawName}${close ? ` (did you mean ${close}?)` : ''}`, command)
}

function readValue(
  option: OptionSpec,
  token: OptionToken,
  previous: Value | undefined,
  command: CommandSpec | undefined,
): Value {
  if (option.value === undefined) {
    if (token.value !== undefined) throw usage(`${token.rawName} takes no value`, command)
    return true
  }
  const value = token.value
  // parseArgs takes the next word, whatever it is. One that looks like an option most likely is one, and this
  // option's value was forgotten (`--email --verbose`): unless this option's values may start with "-".
  const optionLike = value !== undefined && !token.inlineValue && value.length > 1 && value.startsWith('-')
  if (value === undefined || (optionLike && !option.dashValue)) {
    const dash = optionLike ? ` (one starting with "-" is written --${option.name}=-…)` : ''
    throw usage(`${token.rawName} <${option.value}>: missing its value${dash}`, command)
  }
  if (!option.repeatable) return value
  return [...(Array.isArray(previous) ? previous : []), value]
}

/** The known name closest to `name` (dashes and case aside), when it is close enough to be what was meant. */
function closest(name: string, known: readonly string[]): string | undefined {
  const bare = (word: string) => word.replace(/^-+/, '').toLowerCase()
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of known) {
    const distance = editDistance(bare(name), bare(candidate))
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance]
  }
  // Two edits in a five-letter word (`--emial`), none in a letter (`-x` is `-X`, never `-H`).
  return bestDistance <= Math.floor(bare(name).length * 0.4) ? best : undefined
}

function usage(message: string, command: CommandSpec | undefined): CliError {
  const topic = command && command.name !== 'help' ? ` ${command.name}` : ''
  return new CliError(message, EXIT.usage, `see ${PROGRAM.name}${topic} --help`)
}
