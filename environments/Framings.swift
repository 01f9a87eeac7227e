// Framings: phrasings for environments whose question is one fixed sentence per task (code
// specs, knowledge questions): the question stays word for word and the request around it
// varies (21 framings, framing 0 the bare question). Held out as every phrasing is
// (`Phrasing.isUnseen`: index 3, 7, 11, ...). The bare question is kept in metadata
// `base_question`, so a task reworded twice is framed from the original.
import PonderCore

public enum Framings {
    public static let templates: [String] = [
        "{q}",
        "Question: {q}",
        "{q} Please answer briefly.",
        "I was wondering about this: {q}",
        "Quick question. {q}",
        "Here is a question for you.\n{q}",
        "{q}\nThanks!",
        "Could you help me? {q}",
        "Please answer the following. {q}",
        "Q: {q}\nA:",
        "{q} Keep it short.",
        "Help me out: {q}",
        "Task: {q}",
        "Hi! {q}",
        "{q} (Answer as well as you can.)",
        "Something I need to know: {q}",
        "Please respond to this request. {q}",
        "{q}\nBe precise.",
        "I have a question. {q}",
        "My question is this: {q}",
        "Read carefully and answer. {q}",
    ]

    /// The task with its user message framed by template `wording`.
    public static func reword(_ task: EnvTask, wording: Int, system: String?) -> EnvTask {
        guard templates.indices.contains(wording) else { return task }
        var task = task
        let base = task.metadata["base_question"] ?? task.question
        task.metadata["base_question"] = base
        task.prompt = Conversation(system: system, user: templates[wording].replacingOccurrences(of: "{q}", with: base))
        return task
    }
}
