import ArgumentParser
import CiblageModel
import CiblageReports
import CiblageStore
import Foundation
import GRDB
import Logging

/// Exit codes of every `ciblage-*` command (`shared/spec/commands.md`).
public enum ExitStatus: Int32, Sendable {
    /// Success (rows rejected as input errors still mean success).
    case success = 0
    /// Failure: the stage changed nothing in the store and left no partial output file.
    case failure = 1
    /// Bad usage or configuration: the message names the option or key.
    case usage = 2
    /// Done, but at least one input file was refused whole; every other file is stored.
    case refused = 3
}

/// A failure already explained to the user, carrying the exit status to end with.
public struct CommandFailure: Error, CustomStringConvertible {
    public var message: String
    public var status: ExitStatus

    public init(_ message: String, status: ExitStatus = .failure) {
        self.message = message
        self.status = status
    }

    public var description: String { message }
}

/// Runs a command: parse, run, map errors to the contract's exit codes (argument errors are 2,
/// not ArgumentParser's 64).
public enum CommandRunner {
    /// `mallocArenas`: how many glibc malloc arenas the process may use (``Memory/limitArenas(to:)``).
    /// Two keep the peak of memory lowest. A stage whose threads allocate many small blocks at
    /// once asks for more: with two, threads share an arena and wait on its lock (the score's
    /// explanations and reasons, computed on two threads, slept on it some 4 000 times per
    /// national run).
    public static func main<Command: ParsableCommand>(_ type: Command.Type, mallocArenas: Int32 = 2) -> Never {
        // Off a terminal stdout is block-buffered while stderr is not: flush what the command
        // printed before its error, so that a log reads in order («voir ci-dessus» is above).
        func say(_ text: String) {
            fflush(nil)
            FileHandle.standardError.write(Data(text.utf8))
        }
        ParentWatch.follow()
        Memory.limitArenas(to: mallocArenas)
        // The process ends with `exit` below: the stages' large values are left to it.
        Memory.keepLargeValuesUntilExit()
        do {
            var command = try type.parseAsRoot()
            try command.run()
            exit(ExitStatus.success.rawValue)
        } catch let failure as CommandFailure {
            say("erreur : \(failure.message)\n")
            exit(failure.status.rawValue)
        } catch let exit as ExitCode {
            fflush(nil)
            Foundation.exit(exit.rawValue)
        } catch let error as DatabaseError {
            say("erreur : store : \(describe(error))\n")
            exit(ExitStatus.failure.rawValue)
        } catch {
            let code = type.exitCode(for: error)
            if code == .success {
                print(FrenchArguments.translate(type.fullMessage(for: error)))
                exit(0)
            }
            let isUsage = code == .validationFailure || error is ValidationError
            var message = isUsage || code != .failure ? FrenchArguments.translate(type.fullMessage(for: error)) : describe(error)
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            say("erreur : \(message)\n")
            exit(isUsage ? ExitStatus.usage.rawValue : ExitStatus.failure.rawValue)
        }
    }

    /// Any error said in French: store errors by their SQLite code, system and Foundation file
    /// errors by their cause (disk full, permission, name too long…), never a raw message.
    public static func describe(_ error: any Error) -> String { StoreFailure.french(error) }

    /// Logs to stderr; `quiet` keeps errors only. Also sets up the progress line of long steps
    /// (``Progress``): on stderr when it is a terminal, unless `quiet`.
    public static func makeLogger(label: String, quiet: Bool) -> Logger {
        Progress.shared.enable(quiet: quiet)
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = quiet ? .error : .info
        if let level = ProcessInfo.processInfo.environment["CIBLAGE_LOG"].flatMap(Logger.Level.init(rawValue:)) {
            logger.logLevel = level
        }
        return logger
    }
}
