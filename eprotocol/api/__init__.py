"""The HTTP layer (Litestar): the only package that knows HTTP."""
