import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DASHBOARDS, dashboardJson, dashboardPath } from '../compose/grafana/service-dashboards.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('Grafana dashboards per service', () => {
  it("every service has one (payment-provider shows on ticket-booking's)", () => {
    const services = readdirSync(`${ROOT}services`).filter((s) => s !== 'payment-provider');
    expect(services.length).toBeGreaterThanOrEqual(5);
    expect(DASHBOARDS.map((d) => d.service).sort()).toEqual(services.sort());
    for (const s of services) expect(existsSync(dashboardPath(s)), dashboardPath(s)).toBe(true);
  });

  for (const d of DASHBOARDS) {
    it(`${d.service}: the committed JSON is what the generator produces`, () => {
      const committed = JSON.parse(readFileSync(dashboardPath(d.service), 'utf8'));
      expect(committed).toEqual(JSON.parse(JSON.stringify(dashboardJson(d))));
    });

    it(`${d.service}: every pattern metric a panel queries is one the service exports`, () => {
      const source = d.telemetry.map((f) => readFileSync(`${ROOT}${f}`, 'utf8')).join('\n');
      const used = d.panels.flatMap((p) =>
        [p.expr, ...(p.more ?? []).map((q) => q.expr)].flatMap((e) => e.match(/sdlab_[a-z_0-9]+/g) ?? []),
      );
      expect(used.length).toBeGreaterThan(0);
      for (const metric of used) {
        const base = metric.replace(/_(bucket|sum|count)$/, '');
        expect(source, `${metric} in ${d.telemetry.join(', ')}`).toContain(`'${base}'`);
      }
    });
  }
});
