// Rewards: reward functions over (task, completion) (DESIGN.md §6).
