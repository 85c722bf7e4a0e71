import { expect, test } from 'vitest'
import { lazy } from '../../src/core/lazy.js'

test('lazy() loads once: concurrent and later calls share the one load', async () => {
  let loads = 0
  const module = { name: 'chunk' }
  const load = lazy(async () => {
    loads++
    return module
  })
  expect(loads).toBe(0) // nothing is loaded before the first call
  const [first, second] = await Promise.all([load(), load()])
  expect(await load()).toBe(module)
  expect(first).toBe(module)
  expect(second).toBe(module)
  expect(loads).toBe(1)
})

test('lazy() forgets a failed load: its callers get the error, the next call loads again', async () => {
  let loads = 0
  const failure = new TypeError('Failed to fetch dynamically imported module')
  const load = lazy(async () => {
    loads++
    if (loads === 1) throw failure
    return 'loaded'
  })
  const [first, second] = await Promise.allSettled([load(), load()])
  expect(first).toEqual({ status: 'rejected', reason: failure })
  expect(second).toEqual({ status: 'rejected', reason: failure }) // joined the failed load, not a second one
  expect(loads).toBe(1)
  await expect(load()).resolves.toBe('loaded')
  await expect(load()).resolves.toBe('loaded')
  expect(loads).toBe(2)
})
