"""Runtime-independent core of the Spatius avatar extension for TEN.

Nothing in this package imports `ten_runtime`: the TEN glue lives in ../extension.py.
"""

__version__ = "0.1.0"
