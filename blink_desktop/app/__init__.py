"""The desktop app: a pywebview window that shows Blink and stores what it connects.

- `wiring`: settings → upstream (emulator, Basiq with a key, or your server), store, service.
- `window`: the pywebview window with the host page, its bridge and navigation hooks.
- `navigation`: the Qt navigation hooks (non-web schemes refused, ``basiq://`` caught).
- `blink_events`: Blink's protocol: its events as pydantic models, ``basiq://`` URLs.
- `bridge`: what the host page may ask of Python, behind the bridge token.
- `connect`: the connect service, which decides what each Blink message means.
- `backend`: the client of your server, in backend mode.
- `store`, `outbox`: the app's SQLite database, and reports waiting for your server.
- `ledger`, `manager`: cached accounts and transactions; the connection manager that fetches,
  refreshes and deletes them. `commands`: their subcommands (`terminal_steps`: live steps).
"""
