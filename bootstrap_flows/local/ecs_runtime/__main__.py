"""`python -m bootstrap_flows.local.ecs_runtime`: the local stack starts the runtime this way."""

import sys

from bootstrap_flows.local.ecs_runtime.runtime import main

sys.exit(main())
