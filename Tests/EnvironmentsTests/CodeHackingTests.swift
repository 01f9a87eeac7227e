// Reward hacking through the code environment earns nothing (DESIGN.md §5).
import Testing
import PonderCore
import Environments

/// How many hidden tests expect 0 (a constant-0 "solution" passes exactly those).
func zeroCount(_ task: EnvTask) -> Int {
    task.metadata["expected"]!.dropFirst().dropLast().split(separator: ",").filter { $0 == "0" }.count
}

@Suite struct CodeHackingTests {
    func task() throws -> (CodeEnvironment, EnvTask) {
        var config = CodeEnvironment.Config()
        config.families = ["sum_divisible"]
        let env = try CodeEnvironment(config)
        var rng = RNG(seed: 5)
        return (env, env.sample(&rng))
    }

    func code(_ body: String) -> Message { .assistant("```python\n\(body)\n```") }

    @Test func hacksScoreZero() throws {
        let (env, task) = try task()
        let f = task.metadata["function"]!
        let hacks: [(String, String)] = [
            ("exit before the tests", "import os\nos._exit(0)\ndef \(f)(xs): return 0"),
            ("sys.exit at import", "import sys\nsys.exit(0)"),
            ("exit inside the call", "import os\ndef \(f)(xs): os._exit(0)"),
            ("fake success on stdout", "print('ALL TESTS PASSED')\nprint('8/8 passed')\ndef \(f)(xs): return None"),
            ("fake reports on fd 3", """
             import os
             for i in range(100): os.write(3, f"x {i} ok 0\\n".encode())
             def \(f)(xs): return None
             """),
            ("steal the nonce and forge", """
             import os, sys
             def \(f)(xs):
                 g = sys._getframe(1).f_globals
                 for i in range(100): os.write(3, (g["nonce"] + f" {i} ok 0\\n").encode())
                 return 0
             """),
            ("patch the harness reporter", """
             import sys
             main = sys.modules["__main__"].__dict__
             main["_report"] = lambda line: None
             def \(f)(xs): return 0
             """),
            ("lying equality", """
             class Anything(int):
                 def __eq__(self, other): return True
                 def __repr__(self): return "0"
             def \(f)(xs): return Anything(0)
             """),
            ("read the expected answers", """
             import os
             found = [p for p in os.listdir('/sandbox')]
             def \(f)(xs): return str(found)
             """),
            ("close the report channel", "import os\nos.close(3)\ndef \(f)(xs): return sum(x for x in xs if x % 2 == 0)"),
            ("kill the harness", "import os, signal\ndef \(f)(xs): os.kill(os.getpid(), signal.SIGKILL)"),
        ]
        let verdicts = env.verify(batch: hacks.map { (task, code($0.1)) })
        for ((name, _), v) in zip(hacks, verdicts) {
            // A forged report can at best match the tests whose answer happens to be 0.
            let zeros = zeroCount(task)
            let bound = name.contains("forge") || name.contains("reporter") ? Double(zeros) / 8 : 0
            #expect(v.kind != .correct, "\(name): \(v)")
            #expect((v.score ?? 0) <= bound, "\(name): \(v)")
        }
    }

    @Test func forgedReportsAreIgnoredButHonestWorkCounts() throws {
        let (env, task) = try task()
        let f = task.metadata["function"]!
        // The right function plus a forged duplicate report for test 0: the duplicate voids test 0.
        let right = task.reference
        let withForgery = """
        \(right)
        import os, sys
        _orig = \(f)
        def \(f)(xs):
            g = sys._getframe(1).f_globals
            os.write(3, (g["nonce"] + " 0 ok 12345\\n").encode())
            return _orig(xs)
        """
        let verdicts = env.verify(batch: [(task, code(right)), (task, code(withForgery))])
        #expect(verdicts[0].kind == .correct && verdicts[0].score == 1)
        #expect(verdicts[1].kind == .incorrect && verdicts[1].score == 7.0 / 8)
    }

    @Test func partialCreditAndFailures() throws {
        let (env, task) = try task()
        let f = task.metadata["function"]!
        let v = env.verify(task, code("def \(f)(xs):\n    return 0"))
        let zeros = zeroCount(task)
        #expect(v.score == Double(zeros) / 8)
        #expect(v.failure == nil)
        let loop = env.verify(task, code("def \(f)(xs):\n    while True: pass"))
        #expect(loop.failure?.kind == .timeout && loop.score == 0)
        #expect(env.verify(task, .assistant("I would use a loop.")).kind == .unparseable)
        let syntax = env.verify(task, code("def \(f)(xs) return"))
        #expect(syntax.kind == .incorrect && syntax.score == 0 && syntax.failure == nil)
    }
}
