import { scenario } from '../../faults/scenarios/redis-stopped.ts';
import { faultTest } from '../../faults/test-harness.ts';

// The redis-stopped scenario (infra/faults/README.md) on its own copy of the services, ports +20000,
// with a private Redis that the scenario stops and starts.
faultTest(scenario, { portOffset: 20_000, minChecks: 43 });
