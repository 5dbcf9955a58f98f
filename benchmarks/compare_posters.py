"""Compare two render output folders poster by poster (pixels and QA figures); see ecomctl/bench/compare.py.

    python benchmarks/compare_posters.py OUT_A OUT_B [--max-mad 2] [--json FILE]
"""

import sys

from ecomctl.bench.compare import main

if __name__ == "__main__":
    sys.exit(main())
