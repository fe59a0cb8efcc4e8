# The TEN extension package `spatius_avatar_python`. A TEN app imports it as
# `ten_packages.extension.spatius_avatar_python` and then loads `addon.py`.
