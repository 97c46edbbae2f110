"""``sqlite3`` with loadable extensions, for the real Llama Stack server on a Python built without them.

On the server's PYTHONPATH (ahead of the standard library) only when this machine's Python lacks
``enable_load_extension`` (pyenv's default build does; the official image's Python has it). sqlite-vec
needs it, so the module is pysqlite3-binary's build of the same API.
"""

import sys

import pysqlite3
import pysqlite3.dbapi2

sys.modules[__name__] = pysqlite3
sys.modules[f"{__name__}.dbapi2"] = pysqlite3.dbapi2
