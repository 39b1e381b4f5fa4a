import { scenario } from '../../faults/scenarios/elasticsearch-slow.ts';
import { faultTest } from '../../faults/test-harness.ts';

// The elasticsearch-slow scenario (infra/faults/README.md) on its own copy of ticket-booking, its
// worker and the payment provider, ports +25000, started with ELASTICSEARCH_URL pointing at a
// latency proxy in front of the shared node (never stopped; the run has its own index).
faultTest(scenario, { portOffset: 25_000, minChecks: 17 });
