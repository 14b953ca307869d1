"""deskmcp servers: one package per server."""
