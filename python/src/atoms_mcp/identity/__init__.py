"""Who is calling: JWT verification, token sources, the credentials file, OAuth sign-in, the HTTP resource server."""
