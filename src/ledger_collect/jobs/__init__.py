"""Jobs: the bodies of the work that runs by itself (one module per job family), called by the
dramatiq actors and the schedule. A body calls only the command pipeline and is idempotent."""
