/** `npm run demo:sync` runs its story in-process: it must come out right, and say so readably, in under a minute. */
import { runSyncDemo } from '../../../scripts/demo-sync';

jest.setTimeout(90_000);

describe('npm run demo:sync', () => {
  it('syncs ml/shared from acme.demo to partner.demo with its referrer, and refuses reads outside the export', async () => {
    const lines: string[] = [];
    const started = Date.now();
    const ok = await runSyncDemo((text) => lines.push(text));
    const out = lines.join('\n');
    expect({ ok, out }).toEqual({ ok: true, out: expect.any(String) });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(out).toMatch(/COMPLETED: 3 copied, 0 held, 0 failed of 3 found/);
    expect(out.match(/byte-identical/g)).toHaveLength(3);
    expect(out).toContain('+ referrer signature');
    expect(out).toMatch(/List of ml\/shared without a grant: refused, PERMISSION_DENIED/);
    expect(out).toMatch(/List of ml\/private with that grant: refused/);
    expect(out).toMatch(/Pull of .* \(ml\/private\) with that grant: refused/);
    expect(out).not.toContain('UNEXPECTED');
    expect(out).toMatch(/stopped both gateways$/);
  });
});
