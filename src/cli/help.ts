import { COMMANDS, type CommandSpec, GLOBAL_OPTIONS, type OptionSpec, PROGRAM } from './commands.js'

/** Where lines wrap without a terminal to ask (a pipe, a file), and the narrowest a terminal makes them. */
const WIDTH = 80
const NARROWEST = 50

/**
 * The `--help` text of the program (no command) or of one command, from the table in commands.ts, wrapped at
 * `columns` (the terminal's width; 80 when there is none).
 */
export function helpText(command?: string, columns?: number): string {
  const width = columns === undefined || !(columns > 0) ? WIDTH : Math.max(NARROWEST, Math.floor(columns))
  const spec: CommandSpec | undefined = COMMANDS.find((known) => known.name === command)
  const global: readonly OptionSpec[] = GLOBAL_OPTIONS
  if (!spec) {
    return page(
      width,
      `${PROGRAM.name} [options] [command]`,
      PROGRAM.help,
      [
        ['Options', global.map(optionRow)],
        ['Commands', COMMANDS.map((known) => [`${known.name}${argumentsOf(known)}`, known.help])],
      ],
      PROGRAM.epilogue,
    )
  }
  const help = global.filter((option) => option.name === 'help')
  const argument = spec.argument
  return page(width, `${PROGRAM.name} ${spec.name} [options]${usageOf(spec)}`, spec.help, [
    ['Arguments', argument?.help ? [[argument.name, argument.help]] : []],
    ['Options', [...spec.options, ...help].map(optionRow)],
    ['Global Options', global.filter((option) => option.name !== 'help').map(optionRow)],
  ])
}

type Row = readonly [term: string, description: string]

function page(
  width: number,
  usage: string,
  description: string,
  sections: readonly (readonly [title: string, rows: readonly Row[]])[],
  epilogue: readonly string[] = [],
): string {
  const shown = sections.filter(([, rows]) => rows.length > 0)
  // One column for every list of the page, as wide as its longest term (at most half the page: a longer term
  // stands on its own line).
  const longest = Math.max(...shown.flatMap(([, rows]) => rows.map(([term]) => term.length))) + 2
  const column = Math.min(longest, Math.floor(width / 2))
  const blocks = [
    `Usage: ${usage}`,
    wrap(description, width).join('\n'),
    ...shown.map(
      ([title, rows]) =>
        `${title}:\n${rows
          .map(([term, text]) => {
            const [first = '', ...more] = wrap(text, width - 2 - column)
            const indent = ' '.repeat(2 + column)
            const head =
              term.length + 2 > column ? [`  ${term}`, indent + first] : [`  ${term.padEnd(column)}${first}`]
            return [...head, ...more.map((line) => indent + line)].join('\n')
          })
          .join('\n')}`,
    ),
    ...(epilogue.length > 0 ? [epilogue.flatMap((paragraph) => wrap(paragraph, width)).join('\n')] : []),
  ]
  return `${blocks.join('\n\n')}\n`
}

function optionRow(option: OptionSpec): Row {
  const names = option.short === undefined ? `--${option.name}` : `-${option.short}, --${option.name}`
  const value = option.value === undefined ? '' : ` <${option.value}>`
  const fallback = option.default === undefined ? '' : ` (default: ${JSON.stringify(option.default)})`
  return [`${names}${value}`, `${option.help}${fallback}`]
}

/** What follows a command's name in the list of commands: `[options]` when it has its own, and its argument. */
function argumentsOf(command: CommandSpec): string {
  return `${command.options.length > 0 ? ' [options]' : ''}${usageOf(command)}`
}

function usageOf(command: CommandSpec): string {
  const argument = command.argument
  if (!argument) return ''
  return argument.required ? ` <${argument.name}>` : ` [${argument.name}]`
}

/** Words into lines of at most `width` characters (a longer word stands alone). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line ? `${line} ${word}` : word
    }
  }
  return [...lines, line]
}
