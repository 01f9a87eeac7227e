// `ponder serve` against the real `openai` Python client over loopback: a tiny random
// checkpoint is served on a free port with an API key, and openai_client_check.py runs every
// check (protocol, streaming, logprobs, n, seeds, stop strings, each error status, 32 concurrent
// clients). Then SIGTERM must stop the server cleanly.
import Foundation
import Testing
import TestSupport

@Suite struct OpenAIClientTests {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    @Test func openAIClientAgainstPonderServe() throws {
        guard let ponder = PonderTool.executable() else { Issue.record(Comment(rawValue: PonderTool.missing)); return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-serve-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let checkpoint = dir.appendingPathComponent("tiny-chat")
        try TinyCheckpoint.write(to: checkpoint)

        let server = try ServedCheckpoint(ponder: ponder, checkpoint: checkpoint, key: "test-key-\(UUID().uuidString.prefix(8))")
        defer { server.stop() }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", Self.here.appendingPathComponent("openai_client_check.py").path,
                           server.baseURL, server.key, "tiny-chat", "\(TinyCheckpoint.context)"]
        let output = Pipe()
        check.standardOutput = output
        check.standardError = output
        try check.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        if check.terminationStatus != 0 {
            Issue.record("openai_client_check.py failed (exit \(check.terminationStatus); `make deps` installs the openai package):\n\(text)")
        }
        #expect(text.contains("all checks passed"))
        let status = server.stop()
        #expect(status == 0, "ponder serve should exit 0 on SIGTERM, exited \(status)")
    }
}
