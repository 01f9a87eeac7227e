// `reference_dtype` on the stages that keep a frozen reference (grpo, ppo, dpo): the two
// values and the `bf16` spelling decode, the resolved YAML writes it only when it is not the
// default (so older configs keep their hash) and reads back, and a bad value names the choices.
import Foundation
import Model
import Testing
@testable import Experiments

@Suite struct ReferenceDTypeConfigTests {
    static let stages = """
      - stage: grpo
        reference_dtype: bfloat16
      - stage: dpo
        name: dpo
        reference_dtype: bf16
      - stage: ppo
        name: ppo
    """

    @Test func decodesOnEveryReferenceStage() throws {
        let config = try ExperimentConfig.decode(yaml: experimentText(stages: Self.stages), file: "x.yaml")
        var dtypes: [WeightDType] = []
        for stage in config.stages {
            switch stage {
            case .grpo(let s): dtypes.append(s.referenceDType)
            case .dpo(let s): dtypes.append(s.referenceDType)
            case .ppo(let s): dtypes.append(s.referenceDType)
            default: break
            }
        }
        #expect(dtypes == [.bfloat16, .bfloat16, .float32])

        let text = config.resolvedYAML()
        #expect(text.components(separatedBy: "reference_dtype: bfloat16").count == 3, "\(text)")
        #expect(!text.contains("float32") && !text.contains("bf16"))
        let again = try ExperimentConfig.decode(yaml: text, file: "resolved")
        #expect(again == config)
        #expect(again.resolvedYAML() == text)
    }

    @Test func badValueNamesTheKeyAndTheChoices() throws {
        let error = try #require(configError(experimentText(stages: "  - stage: grpo\n    reference_dtype: fp16")))
        #expect(error.keyPath == "stages[2].grpo.reference_dtype")
        #expect(error.message == "must be one of `float32`, `bfloat16`, found 'fp16'", "\(error.message)")
        let ppo = try #require(configError(experimentText(stages: "  - stage: ppo\n    reference_dtype: half")))
        #expect(ppo.keyPath == "stages[2].ppo.reference_dtype" && ppo.message.contains("`float32`, `bfloat16`"))
    }
}
