import { COMMANDS, type CommandSpec, GLOBAL_OPTIONS, type OptionSpec, PROGRAM } from './commands.js'
import { CliError, EXIT } from './exit.js'

/** The shells `completion` writes a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const

const GLOBAL: readonly OptionSpec[] = GLOBAL_OPTIONS
const COMMAND_LIST: readonly CommandSpec[] = COMMANDS
// Where the profile files are, for completing --profile: the default folder of Linux and macOS (see location.ts).
const PROFILES_SH =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
  'for f in "${XDG_STATE_HOME:-$HOME/.local/state}"/session-fetch/*.profile.json "$HOME/Library/Application Support"/session-fetch/*.profile.json; do [ -e "$f" ] && basename "$f" .profile.json; done'

// fish expands a glob that matches nothing to nothing in a `for` loop.
const PROFILES_FISH =
  'for f in $XDG_STATE_HOME/session-fetch/*.profile.json $HOME/.local/state/session-fetch/*.profile.json "$HOME/Library/Application Support"/session-fetch/*.profile.json; basename $f .profile.json; end'

/**
 * `session-fetch completion bash | zsh | fish`: a completion script generated from the table of commands and
 * options (commands, each command's options and the global ones, --profile from the profile files, files for
 * -o, the shells for `completion`, the commands for `help`). It runs nothing but `ls`-like globbing.
 */
export function completionScript(shell: string): string {
  switch (shell) {
    case 'bash':
      return bash()
    case 'zsh':
      return zsh()
    case 'fish':
      return fish()
    default:
      throw new CliError(
        `completion: expected bash, zsh or fish, got ${JSON.stringify(shell.slice(0, 40))}`,
        EXIT.usage,
        `see ${PROGRAM.name} completion --help`,
      )
  }
}

const names = (option: OptionSpec) =>
  option.short === undefined ? [`--${option.name}`] : [`-${option.short}`, `--${option.name}`]
const commands = () => COMMAND_LIST.map((command) => command.name)

function bash(): string {
  const valued = [...GLOBAL, ...COMMAND_LIST.flatMap((command) => command.options)]
    .filter((option) => option.value !== undefined && !['output', 'profile'].includes(option.name))
    .flatMap(names)
  const perCommand = COMMAND_LIST.map(
    (command) => `    ${command.name}) opts="${command.options.flatMap(names).join(' ')}" ;;`,
  )
  return `# bash completion for ${PROGRAM.name}: eval "$(${PROGRAM.name} completion bash)" in ~/.bashrc
_session_fetch() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" command="" opts="" i
  local commands="${commands().join(' ')}"
  local global="${GLOBAL.flatMap(names).join(' ')}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case " $commands " in *" \${COMP_WORDS[i]} "*) command="\${COMP_WORDS[i]}"; break ;; esac
  done
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --profile) COMPREPLY=($(compgen -W "$(${PROFILES_SH})" -- "$cur")); return ;;
    ${valued.join('|')}) COMPREPLY=(); return ;;
  esac
  case "$command" in
${perCommand.join('\n')}
  esac
  if [[ -z "$command" ]]; then
    COMPREPLY=($(compgen -W "$commands $global" -- "$cur"))
  elif [[ "$command" == completion && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "${['bash', 'zsh', 'fish'].join(' ')}" -- "$cur"))
  elif [[ "$command" == help && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "$commands" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
  fi
}
complete -o default -F _session_fetch ${PROGRAM.name}
`
}

// A description as zsh's _arguments and _describe read it: no brackets, colons or single quotes unescaped.
const zshText = (text: string) =>
  text.replace(/\[/g, '(').replace(/\]/g, ')').replace(/:/g, ' -').replace(/'/g, `'\\''`)

function zshOption(option: OptionSpec): string[] {
  const help = zshText(option.help)
  const value =
    option.value === undefined
      ? ''
      : `:${zshText(option.value)}:${option.name === 'output' ? '_files' : option.name === 'profile' ? '_session_fetch_profiles' : ''}`
  const repeat = option.repeatable ? '*' : ''
  return names(option).map((name) => `'${repeat}${name}[${help}]${value}'`)
}

function zsh(): string {
  const described = COMMAND_LIST.map((command) => `'${command.name}:${zshText(command.help)}'`)
  const perCommand = COMMAND_LIST.map((command) => {
    const argument =
      command.name === 'completion'
        ? ` ':shell:(bash zsh fish)'`
        : command.name === 'help'
          ? ` ':command:(${commands().join(' ')})'`
          : command.argument
            ? ` ':${command.argument.name}:'`
            : ''
    return `      ${command.name}) _arguments $global ${command.options.flatMap(zshOption).join(' ')}${argument} ;;`
  })
  return `#compdef ${PROGRAM.name}
# zsh completion for ${PROGRAM.name}: eval "$(${PROGRAM.name} completion zsh)" in ~/.zshrc (after compinit)
_session_fetch_profiles() {
  local -a profiles
  profiles=(\${(f)"$(${PROFILES_SH})"})
  _describe 'profile' profiles
}
_session_fetch() {
  local curcontext="$curcontext" state line
  local -a commands global
  commands=(${described.join(' ')})
  global=(${GLOBAL.flatMap(zshOption).join(' ')})
  _arguments -C $global '1:command:->command' '*::argument:->argument'
  case $state in
    command) _describe 'command' commands ;;
    argument)
      case $line[1] in
${perCommand.join('\n')}
      esac ;;
  esac
}
compdef _session_fetch ${PROGRAM.name}
`
}

const fishText = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

function fishOption(option: OptionSpec, condition: string | undefined): string {
  const parts = [`complete -c ${PROGRAM.name}`]
  if (condition) parts.push(`-n ${fishText(condition)}`)
  if (option.short !== undefined) parts.push(`-s ${option.short}`)
  parts.push(`-l ${option.name}`)
  if (option.value !== undefined) parts.push(option.name === 'output' ? '-r -F' : '-r -f')
  if (option.name === 'profile') parts.push(`-a ${fishText(`(${PROFILES_FISH})`)}`)
  parts.push(`-d ${fishText(option.help)}`)
  return parts.join(' ')
}

function fish(): string {
  const lines = [
    `# fish completion for ${PROGRAM.name}: ${PROGRAM.name} completion fish > ~/.config/fish/completions/${PROGRAM.name}.fish`,
    `complete -c ${PROGRAM.name} -f`,
    ...COMMAND_LIST.map(
      (command) =>
        `complete -c ${PROGRAM.name} -n '__fish_use_subcommand' -a ${command.name} -d ${fishText(command.help)}`,
    ),
    ...GLOBAL.map((option) => fishOption(option, undefined)),
    ...COMMAND_LIST.flatMap((command) =>
      command.options.map((option) => fishOption(option, `__fish_seen_subcommand_from ${command.name}`)),
    ),
    `complete -c ${PROGRAM.name} -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'`,
    `complete -c ${PROGRAM.name} -n '__fish_seen_subcommand_from help' -a ${fishText(commands().join(' '))}`,
  ]
  return `${lines.join('\n')}\n`
}
