"""What more than one feature shows: renderers and small actions below the routers (issue 16).

A router may use any of these; none of them imports a router. Simple mode's screens use them too, so the
normal and the simple bot show a balance, send an invoice or queue a chat with a person the same way.
"""
