"""Work that runs by itself: job bodies by family (``<family>.py``), each a plain function of
the ``Collections`` that calls only the command pipeline and is safe to run twice."""
