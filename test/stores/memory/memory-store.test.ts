import { expect, test, vi } from 'vitest'
import { memoryStore } from '../../../src/index.js'

test('a store listener that throws neither fails the write nor keeps the others from hearing it', async () => {
  const store = memoryStore()
  const thrown = new Error('listener bug')
  const heard = vi.fn()
  store.subscribe?.(() => {
    throw thrown
  })
  store.subscribe?.(heard)
  const uncaught = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve))
  const written = await store.write({ record: undefined, reason: 'logout', writer: 'w' }, 0)
  expect(written).toMatchObject({ version: 1, reason: 'logout' })
  expect(heard).toHaveBeenCalledWith(written)
  expect(await uncaught).toBe(thrown) // reported where the runtime reports errors, not swallowed
})

test('unsubscribing stops the notifications', async () => {
  const store = memoryStore()
  const heard = vi.fn()
  const off = store.subscribe?.(heard)
  off?.()
  await store.write({ record: undefined, reason: 'logout', writer: 'w' }, 0)
  expect(heard).not.toHaveBeenCalled()
})
