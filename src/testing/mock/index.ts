export {
  type Fault,
  type FaultTarget,
  type MockCounters,
  type MockLogEntry,
  type MockReply,
  type MockRequest,
  PlantlyMock,
  type PlantlyMockOptions,
} from './plantly-mock.js'
export { type MockServer, type MockServerOptions, startMockServer } from './server.js'
