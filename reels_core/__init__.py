"""The core both services and the ledger build on, with no service and no gRPC in it
(docs/ARCHITECTURE.md): the domain types (domain.py), windows and validity (windows.py),
the fast script (fast_script.py) and offline places (places.py), library keys and
configuration (libraries.py), the domain errors (errors.py), the domain clock
(clock.py), and, in its own module, the domain<->proto mapping (wire.py)."""
