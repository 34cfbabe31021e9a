/**
 * Prints one plain closing line, `vitest: N passed, N failed, N skipped`, after the default
 * reporter's output, so CI logs that read closing lines can count the run; before it, every
 * skipped suite with its reason (a skipped suite's name says why, e.g. "set ARANGO_URL ...").
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const why = new Map<string, number>();
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else {
          skipped++;
          const reason = `${mod.moduleId.replace(`${process.cwd()}/`, '')}: ${test.fullName.split(' > ')[0] ?? ''}`;
          why.set(reason, (why.get(reason) ?? 0) + 1);
        }
      }
      // A module that failed to load has no tests but must still fail the count.
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failed++;
    }
    for (const [reason, n] of why) process.stdout.write(`\nskipped ${n}: ${reason}`);
    process.stdout.write(`\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
