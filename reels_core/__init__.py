"""What both services and the ledger share below them (see DESIGN.md): for now
the domain clock."""
