// Applying a partial set of settings (from YAML, as JSON-like values) over a Codable struct's
// defaults. Synthesised Decodable would demand every key; here a missing key keeps its default
// and an unknown key is an error that names it and lists the known ones.
import Foundation

/// `defaults` with the keys of `overrides` replaced. `knob` prefixes error names ("arithmetic");
/// `optionalKeys` lists keys whose default is nil (absent from the encoded defaults).
public func applyingOverrides<T: Codable>(_ overrides: [String: Any], to defaults: T, knob: String,
                                          optionalKeys: Set<String> = []) throws -> T {
    let encoded = try JSONEncoder().encode(defaults)
    guard var merged = try JSONSerialization.jsonObject(with: encoded) as? [String: Any] else { return defaults }
    let known = Set(merged.keys).union(optionalKeys)
    for (key, value) in overrides {
        guard known.contains(key) else {
            throw ConfigError(knob: "\(knob).\(key)", allowed: "one of: " + known.sorted().joined(separator: ", "),
                              found: "unknown key")
        }
        merged[key] = value
    }
    let data = try JSONSerialization.data(withJSONObject: merged)
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch DecodingError.typeMismatch(let type, let context), DecodingError.valueNotFound(let type, let context) {
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        throw ConfigError(knob: "\(knob).\(path)", allowed: "a value of type \(type)", found: "\(context.debugDescription)")
    } catch DecodingError.dataCorrupted(let context) {
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        throw ConfigError(knob: "\(knob).\(path)", allowed: "a valid value", found: context.debugDescription)
    }
}
