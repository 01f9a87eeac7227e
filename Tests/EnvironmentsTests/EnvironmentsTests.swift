import Testing
@testable import Environments
