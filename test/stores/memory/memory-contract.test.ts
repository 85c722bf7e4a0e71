import { memoryStore } from '../../../src/index.js'
import { describeStore } from '../contract/describe-store.js'

// memoryStore() is shared by passing the one object to every client of the realm (its TSDoc), so each
// "instance" is that object. Its lock lives in the realm, which a holder cannot outlive: no lease (each caller's
// own refresh timeout bounds how long it holds); it holds nothing outside itself to lose, and has nothing to close.
describeStore({
  name: 'memoryStore()',
  storage() {
    const store = memoryStore()
    return { open: () => store }
  },
  capabilities: { lock: 'realm', subscribe: true, close: false, bind: true, lose: false },
})
