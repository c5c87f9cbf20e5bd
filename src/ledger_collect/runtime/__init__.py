"""How our processes run: the garbage collector's settings, workers that end with their parent."""
