# The TEN extension package `spatius_avatar_python`. A TEN app's Python addon loader
# imports this package as `ten_packages.extension.spatius_avatar_python` and nothing
# else: importing `addon` here is what registers the addon with the runtime.
#
# The developer CLI (`python -m spatius_avatar_python`) and the unit tests use the inner
# package `spatius_avatar_python/`, which never imports this file or `ten_runtime`.
from . import addon  # noqa: F401
