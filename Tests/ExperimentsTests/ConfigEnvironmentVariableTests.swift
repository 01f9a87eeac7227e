// `${NAME}` and `${NAME:-default}` in experiment values: substituted from the environment, and an
// unset variable without a default is an error that names the file, the line and the variable.
import Foundation
import Testing
@testable import Experiments

@Suite struct ConfigEnvironmentVariableTests {
    func expand(_ text: String, _ environment: [String: String]) -> Result<String, ExperimentConfigError> {
        Result { try ExperimentConfig.expand(text, environment) { ExperimentConfigError(file: "f", line: 1, column: 1, keyPath: "", message: $0) } }
            .mapError { $0 as! ExperimentConfigError }
    }

    @Test func variablesAndDefaultsExpand() throws {
        let env = ["MODEL_DIR": "/models/smol", "EMPTY": ""]
        #expect(try expand("${MODEL_DIR}", env).get() == "/models/smol")
        #expect(try expand("a/${MODEL_DIR}/b${MODEL_DIR:-x}", env).get() == "a//models/smol/b/models/smol")
        #expect(try expand("${UNSET:-models/default}", env).get() == "models/default")
        #expect(try expand("${EMPTY:-d}", env).get() == "d")  // empty counts as unset, as in the shell
        #expect(try expand("no variables", env).get() == "no variables")
    }

    @Test func badReferencesAreClearErrors() {
        let env = ["A": "1"]
        guard case .failure(let unset) = expand("${MISSING}", env) else { Issue.record("an unset variable expanded"); return }
        #expect(unset.message.contains("MISSING is not set") && unset.message.contains("${MISSING:-VALUE}") && unset.message.contains("--set"))
        guard case .failure(let open) = expand("${A", env) else { Issue.record("an unclosed ${ expanded"); return }
        #expect(open.message.contains("without its closing"))
        guard case .failure(let name) = expand("${A-B}", env) else { Issue.record("a bad name expanded"); return }
        #expect(name.message.contains("not an environment variable name"))
    }

    @Test func filesReadTheEnvironmentAndLocateAnUnsetVariable() throws {
        setenv("PONDER_TEST_CONFIG_SEED", "7", 1)
        let config = try ExperimentConfig.decode(yaml: "seed: ${PONDER_TEST_CONFIG_SEED}\n" + experimentText(), file: "x.yaml")
        #expect(config.seed == 7)  // substituted before typing: the value is an integer
        let error = try #require(configError("seed: 1\n" + experimentText(stages: "    learning_rate: ${PONDER_TEST_UNSET_VARIABLE}")))
        #expect(error.file == "x.yaml" && error.line == 11)
        #expect(error.message.contains("PONDER_TEST_UNSET_VARIABLE is not set"))
        // Comments are not values: a `${...}` in one is left alone.
        #expect(configError("# ${PONDER_TEST_UNSET_VARIABLE}\n" + experimentText()) == nil)
    }
}
