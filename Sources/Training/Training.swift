// Training: the trainers (pretraining, SFT, evaluation, later GRPO), one file each (DESIGN.md §7).
