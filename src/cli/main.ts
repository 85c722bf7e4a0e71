#!/usr/bin/env node
import { run } from './program.js'

// The `session-fetch` command. Exits once stdout has taken everything written to it (a pipe may lag behind).
run(process.argv.slice(2)).then((code) => {
  process.stdout.write('', () => process.exit(code))
})
