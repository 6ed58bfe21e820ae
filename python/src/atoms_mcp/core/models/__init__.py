"""Pydantic models of the MCP tools: for each tool an input model (`<Tool>Input`) and, next to it, the model of
its successful result's `data` (`<Tool>Output`), from which tools/list publishes the input and output schemas.

The database re-validates every argument (the RPCs' `private.require_*` helpers), so the input models are the
first, friendlier line: the client sees the limits in the JSON Schema and gets an actionable message before any
round trip. Optional fields accept null as "not given"; only the given fields are passed to the RPC. Output
models allow extra fields, so a later version can add sibling fields compatibly.
"""

from .admin_tools import *  # noqa: F403
from .fields import *  # noqa: F403
from .read_tools import *  # noqa: F403
from .write_tools import *  # noqa: F403
