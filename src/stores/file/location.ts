import { homedir } from 'node:os'
import { posix, win32 } from 'node:path'

/** What the default location depends on (the real process's by default; tests pass their own). */
export interface Platform {
  platform: NodeJS.Platform
  env: NodeJS.ProcessEnv
  home: string
}

/**
 * The folder session files go in by default: `$XDG_STATE_HOME/session-fetch` when that variable holds an
 * absolute path (XDG Base Directory spec: a relative one is ignored), else the platform's place for state kept
 * between runs: `~/Library/Application Support/session-fetch` on macOS, `%LOCALAPPDATA%\session-fetch` on
 * Windows, `~/.local/state/session-fetch` elsewhere.
 */
export function defaultDirectory(
  host: Platform = { platform: process.platform, env: process.env, home: homedir() },
): string {
  const { isAbsolute, join } = host.platform === 'win32' ? win32 : posix
  const xdg = host.env.XDG_STATE_HOME
  if (xdg && isAbsolute(xdg)) return join(xdg, 'session-fetch')
  if (host.platform === 'darwin') return join(host.home, 'Library', 'Application Support', 'session-fetch')
  if (host.platform === 'win32') {
    const local = host.env.LOCALAPPDATA
    return join(local && isAbsolute(local) ? local : join(host.home, 'AppData', 'Local'), 'session-fetch')
  }
  return join(host.home, '.local', 'state', 'session-fetch')
}
