"""`python -m credit_score.bench`: the benchmark, or (`_worker ...`) one variant in its own process."""

import sys

from credit_score.bench import main
from credit_score.bench.variants import run_variant

if len(sys.argv) > 1 and sys.argv[1] == "_worker":
    sys.exit(run_variant(sys.argv[2:]))
sys.exit(main())
