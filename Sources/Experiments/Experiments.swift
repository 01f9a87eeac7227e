// Experiments: experiment configs, the stage runner, evaluation and reports (DESIGN.md §1, §9).
