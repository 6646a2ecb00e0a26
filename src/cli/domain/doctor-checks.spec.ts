import { renderReport, runChecks, type Check, type CheckOutcome } from './doctor-checks';

function check(name: string, outcome: CheckOutcome | Error, ran: string[]): Check {
  return {
    name,
    title: `title ${name}`,
    run: async () => {
      ran.push(name);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

describe('runChecks', () => {
  it('runs every check in order when none fails; warnings and skips do not fail', async () => {
    const ran: string[] = [];
    const report = await runChecks([check('a', { status: 'ok', summary: 'fine' }, ran), check('b', { status: 'warn', summary: 'soon' }, ran), check('c', { status: 'skipped', summary: 'n/a' }, ran)]);
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(report).toMatchObject({ ok: true, exitCode: 0 });
    expect(renderReport(report)).toBe('[ok  ] title a: fine\n[warn] title b: soon\n[skip] title c: n/a\ndoctor: no failures, 1 warning\n');
  });

  it('stops at the first hard failure: later checks do not run and are reported skipped; exit code 1', async () => {
    const ran: string[] = [];
    const report = await runChecks([check('a', { status: 'ok', summary: 'fine' }, ran), check('b', { status: 'fail', summary: 'broken', hints: ['do x'] }, ran), check('c', { status: 'ok', summary: 'fine' }, ran)]);
    expect(ran).toEqual(['a', 'b']);
    expect(report.exitCode).toBe(1);
    expect(report.checks.map((c) => c.status)).toEqual(['ok', 'fail', 'skipped']);
    expect(report.checks[2].summary).toBe('not checked: "title b" failed');
    expect(renderReport(report)).toContain('[FAIL] title b: broken\n       do x\n');
    expect(renderReport(report)).toContain('doctor: "title b" failed; fix it and run parley doctor again\n');
  });

  it('a check that throws is a failure with its message, not a crash', async () => {
    const ran: string[] = [];
    const report = await runChecks([check('a', new Error('no such file'), ran), check('b', { status: 'ok', summary: 'fine' }, ran)]);
    expect(report.checks[0]).toMatchObject({ status: 'fail', summary: 'the check could not run: no such file' });
    expect(ran).toEqual(['a']);
  });
});
