// Why a document is not JSON, with where: for error messages that point into the file.
//
// Foundation's parser gives a position for most failures ("Invalid value around character
// 812.") but not for a number too large for a Double ("Number 1e999 is not representable in
// Swift."); then the number is looked up in the text and its byte offset added.
// Not a JSON parser: it only rewords the one Foundation's JSONSerialization reports.
import Foundation

/// The parser's account of why `data` did not parse, located where that is possible.
public func jsonParseProblem(_ error: any Error, in data: Data) -> String {
    let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
    guard let match = detail.range(of: #"^Number \S+ is not representable"#, options: .regularExpression) else { return detail }
    let number = detail[match].dropFirst("Number ".count).prefix { $0 != " " }
    guard let at = data.range(of: Data(number.utf8)) else { return detail }
    return "\(detail) (byte \(at.lowerBound - data.startIndex))"
}
