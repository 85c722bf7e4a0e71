import { loadOnFirstUse } from '../core/lazy.js'
import { listenForInterrupts } from './interrupts.js'
import { run } from './program.js'

/**
 * Run the command line of this process. Exits once stdout has taken everything written to it (a pipe may lag
 * behind), unless a signal arrived: then its handler exits, once the session call under way is saved.
 */
export function start(): void {
  // One call, then the process exits: the refresh and session-call code loads only if this run needs it.
  loadOnFirstUse()
  const interrupts = listenForInterrupts(process.stderr)
  run(process.argv.slice(2), process, interrupts).then((code) => {
    if (!interrupts.interrupted) process.stdout.write('', () => process.exit(code))
  })
}
