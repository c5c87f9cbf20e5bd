"""Jobs: work that runs by itself (each morning, or when something asks for it), one module per
job family. A job body is a plain function of the open ``Collections`` that goes through the
command pipeline and returns counts; it is safe to run twice for the same business date."""
