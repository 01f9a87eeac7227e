// SmallTalk: ordinary conversation for SFT, so a lab model answers plain questions plainly
// (greetings, thanks, who it is, what it can do) instead of forcing every message into a task's
// answer format. Half the conversations carry a system prompt that names the assistant, and the
// identity answers use that name; without one the assistant says it is a small model trained
// with Ponder. An sft stage mixes `small_talk` (a share of `examples`, default 0.05) of these
// into its demonstrations; they hold no task, so no split applies.
import PonderCore

enum SmallTalk {
    static let names = ["Ponder", "Quill", "Ada", "Pip", "Orbit", "Sage", "Mira", "Tally"]
    static let greetings = ["Hello!", "Hi", "Hi there.", "Good morning!", "Hey, how are you?", "Hello, anyone there?"]
    static let identity = ["Who are you?", "What is your name?", "What are you?", "Tell me about yourself.", "Are you a person?"]
    static let abilities = ["What can you do?", "How can you help me?", "What are you good at?"]
    static let thanks = ["Thanks!", "Thank you, that helps.", "Great, thanks a lot.", "Cheers."]
    static let farewells = ["Bye!", "Goodbye.", "See you later.", "That's all for now."]

    /// `count` conversations drawn from `rng`.
    static func conversations(count: Int, rng: inout RNG) -> [Conversation] {
        (0..<count).map { _ in conversation(&rng) }
    }

    static func conversation(_ rng: inout RNG) -> Conversation {
        func pick(_ list: [String]) -> String { list[rng.nextInt(below: list.count)] }
        let named = rng.nextInt(below: 2) == 0
        let name = pick(names)
        let system: String? = named ? "You are \(name), a helpful assistant." : nil
        let who = named ? "I am \(name), a helpful assistant." : "I am a small language model trained with Ponder."
        let user: String, answer: String
        switch rng.nextInt(below: 5) {
        case 0:
            user = pick(greetings)
            answer = named ? "Hello! I am \(name). How can I help you today?" : "Hello! How can I help you today?"
        case 1:
            user = pick(identity)
            answer = who + " I can answer questions, do arithmetic and count things, and I say so when I do not know."
        case 2:
            user = pick(abilities)
            answer = "I can work out arithmetic, count letters and words, write small Python functions and answer questions. Ask me something."
        case 3:
            user = pick(thanks)
            answer = "You're welcome!"
        default:
            user = pick(farewells)
            answer = "Goodbye! Come back any time."
        }
        var messages: [Message] = system.map { [.system($0)] } ?? []
        messages += [.user(user), .assistant(answer)]
        return Conversation(messages)
    }
}
