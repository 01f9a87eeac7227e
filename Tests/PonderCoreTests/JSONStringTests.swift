import Foundation
import Testing
import PonderCore

@Suite struct JSONStringTests {
    static let samples = ["plain", "quote \" and \\ backslash", "tab\tnew\nline\r", "\u{1}\u{1f}", "é ü", "emoji 🧠 and 中文"]

    @Test(arguments: [false, true])
    func literalsDecodeBackToTheString(asciiOnly: Bool) throws {
        for s in Self.samples {
            let literal = jsonStringLiteral(s, asciiOnly: asciiOnly)
            let decoded = try JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed) as? String
            #expect(decoded == s, "\(literal)")
            if asciiOnly { #expect(literal.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value <= 0x7e }) }
        }
        #expect(jsonStringLiteral("🧠", asciiOnly: true) == "\"\\ud83e\\udde0\"")
        #expect(jsonStringLiteral("\u{1}") == "\"\\u0001\"")
    }
}
