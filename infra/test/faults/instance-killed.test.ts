import { scenario } from '../../faults/scenarios/instance-killed.ts';
import { faultTest } from '../../faults/test-harness.ts';

// The instance-killed scenario (infra/faults/README.md) on its own copy of the services, ports
// +24000; the processes it kills are its own children.
faultTest(scenario, { portOffset: 24_000, minChecks: 13 });
