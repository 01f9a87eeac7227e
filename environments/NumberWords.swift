// Integers written in English words, for answers a model spells out: "twelve", "twenty-one",
// "three hundred and five", "minus four", "two thousand and twenty". Case and hyphens do not
// matter; "and" may join the words of one number. Numbers up to 999,999.
public enum NumberWords {
    static let units: [String: Int] = [
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
        "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
        "seventeen": 17, "eighteen": 18, "nineteen": 19,
    ]
    static let tens: [String: Int] = [
        "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    ]

    /// Every number written in words, left to right. "three apples and twenty-one pears" -> [3, 21]
    public static func values(in text: String) -> [Int] {
        let words = text.lowercased().split { !$0.isLetter }.map(String.init)
        var out: [Int] = []
        var i = 0
        while i < words.count {
            let negative = (words[i] == "minus" || words[i] == "negative") && i + 1 < words.count && isNumberWord(words[i + 1])
            if negative { i += 1 }
            guard isNumberWord(words[i]) else { i += 1; continue }
            var total = 0, current = 0, j = i
            while j < words.count {
                let w = words[j]
                if let v = units[w] ?? tens[w] {
                    current += v
                } else if w == "hundred" {
                    current = max(current, 1) * 100
                } else if w == "thousand" {
                    total += max(current, 1) * 1000
                    current = 0
                } else if w == "and", j + 1 < words.count, isNumberWord(words[j + 1]), j > i {
                    // "three hundred and five": part of the number
                } else {
                    break
                }
                j += 1
            }
            out.append((negative ? -1 : 1) * (total + current))
            i = j
        }
        return out
    }

    /// The one number the text spells, or nil when it spells none or several different ones.
    public static func value(in text: String) -> Int? {
        let distinct = Set(values(in: text))
        return distinct.count == 1 ? distinct.first : nil
    }

    /// The words of a non-negative integer below a million. 305 -> "three hundred and five"
    public static func words(_ n: Int) -> String {
        precondition(n >= 0 && n < 1_000_000, "NumberWords.words: \(n) is outside 0..<1,000,000")
        let byValue = Dictionary(uniqueKeysWithValues: (units.map { ($1, $0) }) + tens.map { ($1, $0) })
        func below100(_ n: Int) -> String {
            if n < 20 { return byValue[n]! }
            return byValue[n / 10 * 10]! + (n % 10 == 0 ? "" : "-" + byValue[n % 10]!)
        }
        func below1000(_ n: Int) -> String {
            if n < 100 { return below100(n) }
            return byValue[n / 100]! + " hundred" + (n % 100 == 0 ? "" : " and " + below100(n % 100))
        }
        if n < 1000 { return below1000(n) }
        return below1000(n / 1000) + " thousand" + (n % 1000 == 0 ? "" : (n % 1000 < 100 ? " and " : " ") + below1000(n % 1000))
    }

    static func isNumberWord(_ w: String) -> Bool { units[w] != nil || tens[w] != nil || w == "hundred" || w == "thousand" }
}
