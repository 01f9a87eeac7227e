// Environments: seeded task generators with verifiers (DESIGN.md §5).
