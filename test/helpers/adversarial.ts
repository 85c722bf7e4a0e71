import { inspect } from 'node:util'

const MIB = 1_048_576

/**
 * 1 MiB texts a hostile server may write where an error message takes its words from: each makes a backtracking
 * token pattern quadratic, or defeats a naive cut.
 */
export const ADVERSARIAL: Record<string, string> = {
  'eyJ repeated': 'eyJ'.repeat(MIB / 3),
  'a long \\w run': 'a'.repeat(MIB),
  'eyJ and a long \\w run': `eyJ${'a'.repeat(MIB)}`,
  'a long run of dots': `eyJ${'.'.repeat(MIB)}`,
  'eyJ and dots': 'eyJ.'.repeat(MIB / 4),
  'eyJ, one dot, words': 'eyJab.cd'.repeat(MIB / 8),
  'Bearer and spaces': `Bearer${' '.repeat(MIB)}`,
  'Bearer repeated': 'bearer '.repeat(MIB / 7),
}

/**
 * Everything an error shows, the way a log or a terminal would get it: message, `String()`, `toJSON()` /
 * `JSON.stringify`, stack and `util.inspect` (every own property), for it and each `cause` down the chain.
 */
export function everythingSaidAbout(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: Number.POSITIVE_INFINITY })]
  let current: unknown = error
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    parts.push(current.message, String(current), JSON.stringify(current), current.stack ?? '')
    current = current.cause
  }
  return parts.join('\n')
}
