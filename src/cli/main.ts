#!/usr/bin/env node
import { listenForInterrupts } from './interrupts.js'
import { run } from './program.js'

// The `session-fetch` command. Exits once stdout has taken everything written to it (a pipe may lag behind),
// unless a signal arrived: then its handler exits, once the session call under way is saved.
const interrupts = listenForInterrupts(process.stderr)
run(process.argv.slice(2), process, interrupts).then((code) => {
  if (!interrupts.interrupted) process.stdout.write('', () => process.exit(code))
})
