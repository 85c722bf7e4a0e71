import { SessionFetchError } from './session-fetch-error.js'

/** The server answered 2xx with a body that is not a usable session. `field` names what was wrong. */
export class InvalidResponseError extends SessionFetchError {
  override name = 'InvalidResponseError' as const
  declare readonly code: 'invalid_response'
  readonly field: string

  constructor(field: string, problem: string) {
    super('invalid_response', `The server's session is not usable: \`${field}\` ${problem}`)
    this.field = field
  }
}
