import { startPrivateElasticsearch } from '@sdlab/testkit/infra';
import { scenario } from '../../faults/scenarios/elasticsearch-down.ts';
import { faultTest } from '../../faults/test-harness.ts';

// The elasticsearch-down scenario (infra/faults/README.md) on its own copy of ticket-booking, its
// worker and the payment provider, ports +23000, with a private Elasticsearch node that the
// scenario SIGKILLs and starts again with its data.
faultTest(scenario, { portOffset: 23_000, minChecks: 14, privateServer: startPrivateElasticsearch });
