// ParameterRule: an allowed range for a setting, stated the way its error message says it
// ("must be >= 1, found 0"). The configuration types of the trainers list their rules with it,
// and the experiment loader checks file values with the same rules, so a range is written once.

public enum ParameterRule<T: Comparable> {
    case atLeast(T)
    case greaterThan(T)
    case atMost(T)
    case between(T, T)
    /// lower < value <= upper
    case aboveUpTo(T, T)

    public func violation(_ value: T) -> String? {
        func show(_ v: T) -> String {
            if let d = v as? Double, d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
            return "\(v)"
        }
        switch self {
        case .atLeast(let a): return value >= a ? nil : "must be >= \(show(a)), found \(show(value))"
        case .greaterThan(let a): return value > a ? nil : "must be > \(show(a)), found \(show(value))"
        case .atMost(let b): return value <= b ? nil : "must be <= \(show(b)), found \(show(value))"
        case .between(let a, let b): return value >= a && value <= b ? nil : "must be in \(show(a))...\(show(b)), found \(show(value))"
        case .aboveUpTo(let a, let b): return value > a && value <= b ? nil : "must be > \(show(a)) and <= \(show(b)), found \(show(value))"
        }
    }
}
