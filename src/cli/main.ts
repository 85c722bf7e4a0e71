#!/usr/bin/env node
import module from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'

// The `session-fetch` command. This file only turns on Node's compile cache, then loads the command: what it
// loads after this is compiled from the cache's code once a first run has filled it (Node 22.1 and later; Node
// 20 has no compile cache, and the optional call does nothing there).
//
// The cache lives in the user's own cache folder, not in Node's default (a folder of os.tmpdir(), which every
// user of the machine can create first and write to): what it holds is code this process runs.
// NODE_COMPILE_CACHE picks another folder, NODE_DISABLE_COMPILE_CACHE=1 turns it off.
const enable = (module as { enableCompileCache?: (directory: string) => unknown }).enableCompileCache
enable?.(
  process.env.NODE_COMPILE_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'session-fetch', 'node-compile-cache'),
)

const { start } = await import('./start.js')
start()
