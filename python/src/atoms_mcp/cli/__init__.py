"""The `atoms` command line: the typer adapter on the call pipeline core, plus database and sign-in commands.

An `atoms` process runs without pydantic plugins (`PYDANTIC_DISABLE_PLUGINS`, unless the environment sets it): no
installed package gets a hook into the validation of settings (secrets) and tool arguments, and the command does not
scan every installed distribution's entry points on each start. It is set here, before any model is built.
"""

import os

os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
