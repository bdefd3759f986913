import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { call, when, why } from "../api";
import { Status } from "./CommandDetail";
import ExecutionGraph from "./ExecutionGraph";

const FINAL = ["Success", "Failed", "TimedOut", "Cancelled", "CompletedWithSuccess", "CompletedWithFailure"];

/** One execution: its steps as they run, and the signals its current step waits for. */
export default function AutomationDetail({ id }: { id: string }) {
  const [execution, setExecution] = useState<any>(null);
  const [error, setError] = useState("");
  const [signalError, setSignalError] = useState("");
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let timer: number | undefined;
    call("ssm", "GetAutomationExecution", { AutomationExecutionId: id })
      .then((r) => {
        setExecution(r.AutomationExecution);
        if (!FINAL.includes(r.AutomationExecution.AutomationExecutionStatus))
          timer = window.setTimeout(() => setTick((t) => t + 1), 2000);
      })
      .catch((e) => setError(why(e)));
    return () => window.clearTimeout(timer);
  }, [id, tick]);

  const signal = async (SignalType: string, Payload: Record<string, string[]> = { Comment: ["From the Steward console"] }) => {
    setSignalError("");
    try {
      await call("ssm", "SendAutomationSignal", { AutomationExecutionId: id, SignalType, Payload });
      setTick((t) => t + 1);
    } catch (e) {
      setSignalError(why(e));
    }
  };
  const cancel = async () => {
    try {
      await call("ssm", "StopAutomationExecution", { AutomationExecutionId: id, Type: "Cancel" });
      setTick((t) => t + 1);
    } catch (e) {
      setSignalError(why(e));
    }
  };

  const e = execution;
  const waiting = e && e.AutomationExecutionStatus === "Waiting";
  const stepRunning = (e?.StepExecutions ?? []).some((s: any) => ["InProgress", "Waiting"].includes(s.StepStatus));
  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={e ? `${e.DocumentName} (version ${e.DocumentVersion})` : undefined}
        actions={
          e &&
          !FINAL.includes(e.AutomationExecutionStatus) && (
            <SpaceBetween direction="horizontal" size="xs">
              {waiting && e.CurrentAction === "aws:approve" && (
                <>
                  <Button onClick={() => signal("Reject")}>Reject</Button>
                  <Button variant="primary" onClick={() => signal("Approve")}>
                    Approve
                  </Button>
                </>
              )}
              {waiting && e.Mode === "Interactive" && e.CurrentStepName && !stepRunning && (
                <Button variant="primary" onClick={() => signal("StartStep", { StepName: [e.CurrentStepName] })}>
                  Run step {e.CurrentStepName}
                </Button>
              )}
              {waiting && e.CurrentAction === "aws:pause" && (
                <Button variant="primary" onClick={() => signal("Resume")}>
                  Resume
                </Button>
              )}
              <Button onClick={cancel}>Cancel execution</Button>
            </SpaceBetween>
          )
        }
      >
        Execution {id}
      </Header>
      {error && <Alert type="error">{error}</Alert>}
      {signalError && (
        <Alert type="error" header="The signal was refused">
          {signalError}
        </Alert>
      )}
      {e && (
        <Container>
          <SpaceBetween direction="horizontal" size="xl">
            <div>
              <Box variant="awsui-key-label">Status</Box>
              <Status status={e.AutomationExecutionStatus} />
            </div>
            <div>
              <Box variant="awsui-key-label">Current step</Box>
              {e.CurrentStepName ?? "-"}
            </div>
            <div>
              <Box variant="awsui-key-label">Started</Box>
              {when(e.ExecutionStartTime)}
            </div>
            <div>
              <Box variant="awsui-key-label">Started by</Box>
              {e.ExecutedBy}
            </div>
          </SpaceBetween>
          {e.FailureMessage && <Box color="text-status-error">{e.FailureMessage}</Box>}
        </Container>
      )}
      {e && (
        <Container header={<Header variant="h2">Execution flow</Header>}>
          <ExecutionGraph steps={e.StepExecutions ?? []} />
        </Container>
      )}
      {e && (
        <Table
          header={<Header variant="h2">Steps</Header>}
          items={e.StepExecutions ?? []}
          empty="No step has run yet."
          columnDefinitions={[
            { id: "name", header: "Step", cell: (s: any) => s.StepName, isRowHeader: true },
            { id: "action", header: "Action", cell: (s: any) => s.Action },
            { id: "status", header: "Status", cell: (s: any) => <Status status={s.StepStatus} /> },
            { id: "start", header: "Started", cell: (s: any) => when(s.ExecutionStartTime) },
            { id: "end", header: "Ended", cell: (s: any) => when(s.ExecutionEndTime) },
            {
              id: "detail",
              header: "Outputs or failure",
              cell: (s: any) =>
                s.FailureMessage ??
                (s.Outputs
                  ? Object.entries(s.Outputs)
                      .map(([k, v]) => `${k}: ${(v as string[]).join(", ")}`)
                      .join("; ")
                  : "-"),
            },
          ]}
        />
      )}
    </SpaceBetween>
  );
}
