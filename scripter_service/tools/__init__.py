"""Read-only context tools for the agentic scripter.

Each provider reads one file (or folder) of a library's context pack,
``<library root>/.reels-context/``, and is usable on its own:

- ``calendar.CalendarProvider``: ``calendar.ics`` events, recurring ones expanded;
- ``locations.LocationsProvider``: ``locations.gpx`` / ``locations.json`` points as
  stays labelled home or trip;
- ``messages.MessagesProvider``: ``messages.json`` by time range and text;
- ``notes.NotesIndex``: ``notes/`` full-text search (SQLite FTS5, index in a cache
  directory outside the library).

``registry.default_registry`` exposes them to the LLM as tools, read-only by
construction, with time ranges clamped to the request window and results capped.
"""
