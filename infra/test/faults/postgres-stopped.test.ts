import { scenario } from '../../faults/scenarios/postgres-stopped.ts';
import { faultTest } from '../../faults/test-harness.ts';

// The postgres-stopped scenario (infra/faults/README.md) on its own copy of the services, ports
// +21000, with a private Postgres (holding the test's database) that the scenario stops and starts.
faultTest(scenario, { portOffset: 21_000, minChecks: 34 });
