/// Environment variables by which `ciblage-run` talks to the stages it starts.
public enum StageEnvironment {
    /// The run's process id: a stage that finds it ends when the run dies (`ParentWatch` in
    /// CiblageCLI).
    public static let runnerPID = "CIBLAGE_PARENT_PID"
}
