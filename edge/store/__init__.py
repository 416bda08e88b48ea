"""SQLite storage: connection, transactions, migrations."""
