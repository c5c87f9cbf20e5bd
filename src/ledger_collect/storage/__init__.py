"""The store: the database (embedded or external), migrations, the event store, the key ring."""
