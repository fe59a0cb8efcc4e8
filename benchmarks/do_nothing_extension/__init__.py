# The benchmarks' do-nothing extension `bench_do_nothing` (see addon.py). bench_real_runtime
# copies this folder into the TEN app as ten_packages/extension/bench_do_nothing; the app's
# Python addon loader imports that package, and importing addon registers it.
from . import addon  # noqa: F401
