"""Jobs: the work that runs by itself, as dramatiq actors on a broker (``broker``), every run
recorded as events (``domain.job_run``) and every job calling the one command pipeline.

``registry`` names the jobs, ``schedule`` when the periodic ones are due, ``scheduler`` requests
their runs, ``actors`` declares them and requests a run (``request_run``), ``runs`` makes one
attempt, ``worker`` runs them. The jobs' bodies are one module per family.
"""
