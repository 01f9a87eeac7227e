// Storage: the SQLite store of runs, metrics, rollouts and evaluations (DESIGN.md §8).
//
// One type, `RunStore`, over GRDB (`DatabasePool` on a file, so SQLite runs in WAL mode;
// `DatabaseQueue` in memory for tests). Files:
//   Schema.swift             migrations "v1", ...: frozen once shipped, append only
//   Records.swift            one Codable record type per table
//   RunStore.swift           opening (refusing newer or foreign files untouched) and every write
//   RunStore+Queries.swift   what `ponder runs / compare / rollouts` and `--resume` read
//   SHA256.swift             config hashes and judge-cache keys (no digest API in Linux Foundation)
//   StoreBenchmark.swift     the insert rate `ponder bench` reports
//   StoreTorture.swift       the writer the kill test SIGKILLs
//
// Not here: what the metrics mean (trainers name them), charts (Experiments/Report*.swift),
// and logging (the command-line tool prints; the store only throws `StoreError`s that say what to do).
