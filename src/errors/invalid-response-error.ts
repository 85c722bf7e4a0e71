import { SessionFetchError } from './session-fetch-error.js'

/**
 * The server answered 2xx with a body that is not a usable session (or, `subject`, not a usable something else:
 * an authorization server's metadata). `field` names what was wrong.
 */
export class InvalidResponseError extends SessionFetchError {
  override name = 'InvalidResponseError' as const
  declare readonly code: 'invalid_response'
  readonly field: string

  constructor(field: string, problem: string, subject = "The server's session") {
    super('invalid_response', `${subject} is not usable: \`${field}\` ${problem}`)
    this.field = field
  }
}
