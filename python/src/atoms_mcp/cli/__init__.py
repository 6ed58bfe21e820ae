"""The `atoms` command line: the typer adapter on the call pipeline core, plus database and sign-in commands."""
