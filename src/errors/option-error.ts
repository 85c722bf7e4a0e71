import { SessionFetchError } from './session-fetch-error.js'

/** An option passed to a factory is invalid. `option` names it; the value itself is never echoed if secret. */
export class OptionError extends SessionFetchError {
  override name = 'OptionError' as const
  declare readonly code: 'invalid_option'
  readonly option: string

  constructor(option: string, problem: string) {
    super('invalid_option', `Invalid option \`${option}\`: ${problem}`)
    this.option = option
  }
}
