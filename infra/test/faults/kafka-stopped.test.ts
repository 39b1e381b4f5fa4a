import { startPrivateKafka } from '@sdlab/testkit/infra';
import { scenario } from '../../faults/scenarios/kafka-stopped.ts';
import { faultTest } from '../../faults/test-harness.ts';

// The kafka-stopped scenario (infra/faults/README.md) on its own copy of the services, ports
// +22000, with a private KRaft broker that the scenario SIGKILLs and starts again with its data.
faultTest(scenario, { portOffset: 22_000, minChecks: 20, privateServer: startPrivateKafka });
