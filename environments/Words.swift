// English-like words from a seeded syllable model: the counting environment's words and the
// knowledge world's names. Not a word list: every word is onset + vowel nucleus + optional coda,
// drawn from the RNG, so any number of distinct pronounceable words comes from a seed.
import PonderCore

enum Words {
    static let onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
                         "br", "cr", "dr", "fr", "gr", "pr", "tr", "bl", "cl", "fl", "gl", "pl", "sl",
                         "sh", "ch", "th", "st", "sp", "sk", "sm", "sn", "qu", ""]
    static let nuclei = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ee", "oo", "ou", "ie", "y"]
    static let codas = ["", "", "", "n", "r", "l", "s", "t", "m", "nd", "rt", "st", "ck", "ng", "sh", "rr", "ll", "ss", "x"]
    static let vowels: Set<Character> = ["a", "e", "i", "o", "u"]
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz")

    /// A lowercase word of `syllables` syllables. seed 1, 2 syllables -> e.g. "glarden"
    static func word(_ rng: inout RNG, syllables: Int) -> String {
        var w = ""
        for s in 0..<syllables {
            let onset = onsets[rng.nextInt(below: onsets.count)]
            w += s == 0 || !onset.isEmpty ? onset : "l"
            w += nuclei[rng.nextInt(below: nuclei.count)]
            if s == syllables - 1 || rng.nextInt(below: 3) == 0 { w += codas[rng.nextInt(below: codas.count)] }
        }
        return w
    }

    /// A capitalised name: "Velmora".
    static func name(_ rng: inout RNG, syllables: Int) -> String {
        let w = word(&rng, syllables: syllables)
        return w.prefix(1).uppercased() + w.dropFirst()
    }

    /// Words of the everyday kind for sentences (a fixed small vocabulary, so sentences read).
    static let common = ["the", "cat", "sat", "on", "a", "warm", "mat", "we", "walked", "to", "old", "mill",
                         "by", "river", "and", "saw", "three", "birds", "in", "tall", "grass", "she", "found",
                         "blue", "stone", "near", "gate", "he", "made", "bread", "for", "his", "friends",
                         "every", "morning", "rain", "fell", "over", "quiet", "town", "they", "sang", "songs",
                         "at", "night", "children", "played", "with", "red", "ball", "garden"]
    static let items = ["apple", "pear", "plum", "fig", "lemon", "cherry", "grape", "melon", "peach", "lime",
                        "hammer", "nail", "rope", "lamp", "candle", "book", "chair", "spoon", "cup", "kettle",
                        "coat", "boot", "scarf", "glove", "hat", "pencil", "ruler", "brush", "key", "coin"]
}
