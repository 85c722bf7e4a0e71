import type { Contender } from './types.js'

/**
 * Every contender, in table order; `bare-fetch` is the reference every ratio divides by. Adding one = one
 * module with a default-exported Contender + one line here.
 */
export const contenders: Record<string, () => Promise<{ default: Contender }>> = {
  'bare-fetch': () => import('./bare-fetch.js'),
  'undici-request': () => import('./undici-request.js'),
  'session-fetch': () => import('./session-fetch.js'),
  'session-fetch-axios': () => import('./session-fetch-axios.js'),
  'session-fetch-ofetch': () => import('./session-fetch-ofetch.js'),
  'session-fetch-undici': () => import('./session-fetch-undici.js'),
  'ofetch-hooks': () => import('./ofetch-hooks.js'),
  'ky-hooks': () => import('./ky-hooks.js'),
  'axios-auth-refresh': () => import('./axios-auth-refresh.js'),
}

export async function loadContender(name: string): Promise<Contender> {
  const load = contenders[name]
  if (!load) throw new Error(`unknown contender "${name}" (known: ${Object.keys(contenders).join(', ')})`)
  return (await load()).default
}
