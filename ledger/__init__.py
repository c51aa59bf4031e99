"""The durable state of the render service: SQLModel tables (``models``), the
engine, migrations and sessions (``db``), and one module of data-access functions
per table family (``libraries``, ``jobs``, ``reels``, ``prefs``, ``feedback``,
``maintenance``). Every DAO function takes a ``Session`` first and never commits;
wrap calls in ``db.session_scope(engine)``."""
