"""Benchmarks: throughput, learning parity, reward fidelity, grid cost.

Repository tooling, not part of the installed product: each module with a `main`
runs from the repository root as `python -m bench.<module> ...` (`-m` puts the
checkout on the path, so the scripts import each other as `bench.<module>` and
nothing named `bench` lands in site-packages).
"""

import os as _os
from pathlib import Path as _Path

#: The checkout that holds this package. The benchmarks start processes of their own
#: (`python -m bench.<module>` runs, Ray workers); putting the checkout on their
#: PYTHONPATH lets them import `bench` too, from whatever folder they start in.
REPO = _Path(__file__).resolve().parent.parent
_os.environ["PYTHONPATH"] = _os.pathsep.join(
    [str(REPO), *filter(None, _os.environ.get("PYTHONPATH", "").split(_os.pathsep))]
)
