import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { Interrupted } from './exit.js'

/**
 * Ask for a line on the terminal. With `hidden`, what is typed is not echoed: readline writes its echo to an
 * output stream that is muted after the question is shown (the question itself goes to stderr, so stdout stays
 * clean for scripts).
 */
export function ask(question: string, { hidden = false } = {}): Promise<string> {
  let muted = false
  const output = new Writable({
    write(chunk, _encoding, callback) {
      if (!muted) process.stderr.write(chunk)
      callback()
    },
  })
  const rl = createInterface({ input: process.stdin, output, terminal: true })
  return new Promise<string>((resolve, reject) => {
    rl.question(question, (answer) => {
      rl.close()
      if (hidden) process.stderr.write('\n')
      resolve(answer)
    })
    muted = hidden
    // Ctrl-C reaches readline, not the process, while the terminal is in raw mode: closing the interface gives
    // the terminal its echo back, and the command exits 130 as for SIGINT.
    rl.on('SIGINT', () => {
      rl.close()
      process.stderr.write('\n')
      reject(new Interrupted())
    })
  })
}

/** The first line of a non-interactive stdin (`echo "$PASSWORD" | session-fetch login ...`). */
export async function firstLine(): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false })
  for await (const line of rl) {
    rl.close()
    return line
  }
  return ''
}
