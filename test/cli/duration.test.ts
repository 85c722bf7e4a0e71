import { describe, expect, test } from 'vitest'
import { DURATION_PATTERN, formatDuration } from '../../src/cli/duration.js'

describe('formatDuration', () => {
  test.each([
    [0, '0s'],
    [999, '0s'],
    [59_600, '59s'],
    [59_999, '59s'],
    [60_000, '1m 0s'],
    [61_500, '1m 1s'],
    [3_599_999, '59m 59s'],
    [3_600_000, '1h 0m'],
    [90_061_000, '25h 1m'],
    [-5, '0s'],
  ])('%i ms prints as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })

  test('the pattern scripts and tests read `status` with matches every boundary, and only whole output', () => {
    const whole = new RegExp(`^${DURATION_PATTERN}$`)
    for (let ms = 0; ms <= 2 * 3_600_000; ms += 499) expect(formatDuration(ms)).toMatch(whole)
    for (const wrong of ['1m', '60', '1h 0m 0s', 's']) expect(wrong).not.toMatch(whole)
  })
})
