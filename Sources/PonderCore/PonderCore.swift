// PonderCore: the vocabulary shared by every Ponder module and nothing else.
// Conversation and Message (chat data), RNG (the seeded generator), and the Environment and
// RewardFunction protocols. It has no dependencies, so environments and rewards can be written
// against it without touching the model or the trainers.
