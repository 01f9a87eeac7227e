import Testing
@testable import Rewards
