/** The exit codes of the `session-fetch` command. */
export const EXIT = {
  /** A 2xx or 3xx answer; a command that did what it was asked. */
  ok: 0,
  /** An HTTP error answer (its body still printed), or a failure (network, store, login refused). */
  failed: 1,
  /** The command line is wrong. */
  usage: 2,
  /** No session (never logged in, logged out) or it died: run `session-fetch login`. */
  noSession: 3,
} as const

/** An error the command reports as one line on stderr, exiting with `exitCode`. */
export class CliError extends Error {
  override name = 'CliError' as const
  constructor(
    message: string,
    readonly exitCode: number,
    readonly hint?: string,
  ) {
    super(message)
  }
}

export const LOGIN_HINT = 'run `session-fetch login` first'
