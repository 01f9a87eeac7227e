// Storage: the SQLite store of runs, metrics, rollouts and evaluations (DESIGN.md §8).
