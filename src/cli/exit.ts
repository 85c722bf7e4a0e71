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
  /** Stopped by SIGINT (Ctrl-C), 128 + 2 as a shell reports it; after the session call under way was saved. */
  interrupted: 130,
  /** Stopped by SIGTERM, 128 + 15; after the session call under way was saved. */
  terminated: 143,
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

/** Ctrl-C at a prompt: exit 130 like SIGINT, with nothing more to say. */
export class Interrupted extends CliError {
  constructor() {
    super('interrupted', EXIT.interrupted)
  }
}

export const LOGIN_HINT = 'run `session-fetch login` first'
