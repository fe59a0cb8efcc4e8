# The benchmarks' floor extension `bench_floor` (see addon.py). bench_real_runtime copies this
# folder into the TEN app as ten_packages/extension/bench_floor, as it does bench_do_nothing.
from . import addon  # noqa: F401
