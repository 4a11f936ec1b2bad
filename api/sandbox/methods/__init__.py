"""The sandbox's Bot API methods, one module per family; `api.sandbox.botapi` is the dispatch table over them.

`params` reads a request, `table` registers a family's methods, `keyboards` and `common` hold the
validation every sending method shares.
"""
