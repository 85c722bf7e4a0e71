// Fails the run when any test was skipped, marked todo, or when no test ran at all; prints the plain
// "N passed, N failed" line CI reads. Reads vitest's JSON report.
import { readFileSync } from 'node:fs'

const file = process.argv[2] ?? '.vitest-results.json'
const report = JSON.parse(readFileSync(file, 'utf8'))
const passed = report.numPassedTests ?? 0
const failed = report.numFailedTests ?? 0
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
if (skipped > 0) {
  for (const suite of report.testResults ?? []) {
    for (const test of suite.assertionResults ?? []) {
      if (test.status !== 'passed' && test.status !== 'failed')
        console.error(`not run: ${suite.name} > ${test.fullName}`)
    }
  }
  console.error('Skipped or todo tests are defects here: every test must run.')
  process.exit(1)
}
if (passed === 0 || failed > 0 || report.success === false) process.exit(1)
