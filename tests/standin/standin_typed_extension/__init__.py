"""A test-local extension whose manifest declares typed properties and messages, for the
tests that compare the stand-in with the real runtime (tests/standin/test_standin_as_real.py).
Not imported by the tests: the runtime loads it from an extension folder, as a TEN app does."""

from . import addon  # noqa: F401 - registers the addon: the TEN addon loader imports only the package
