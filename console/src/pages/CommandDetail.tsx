import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Container from "@cloudscape-design/components/container";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator, { StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import { call, when, why } from "../api";

interface Invocation {
  InstanceId: string;
  Status: string;
  StatusDetails?: string;
  RequestedDateTime?: number;
  CommandPlugins?: { Name: string; Output?: string; ResponseCode?: number; Status?: string }[];
}

const STATUS: Record<string, StatusIndicatorProps.Type> = {
  Success: "success",
  Failed: "error",
  TimedOut: "error",
  Cancelled: "stopped",
  Undeliverable: "warning",
  InProgress: "in-progress",
  Pending: "pending",
  Delayed: "pending",
};

export function Status({ status }: { status: string }) {
  return <StatusIndicator type={STATUS[status] ?? "info"}>{status}</StatusIndicator>;
}

/** A command's nodes, each with its status and output, as the server streams them. */
export default function CommandDetail({ commandId }: { commandId: string }) {
  const [command, setCommand] = useState<any>(null);
  const [invocations, setInvocations] = useState<Invocation[]>([]);
  const [live, setLive] = useState(true);
  const [error, setError] = useState("");

  useEffect(() => {
    call("ssm", "ListCommands", { CommandId: commandId })
      .then((r) => setCommand(r.Commands?.[0] ?? null))
      .catch((e) => setError(why(e)));
    const source = new EventSource(`/console/api/commands/${encodeURIComponent(commandId)}/events`);
    const take = (e: MessageEvent) => {
      const body = JSON.parse(e.data);
      if (body && body.CommandInvocations) setInvocations(body.CommandInvocations);
    };
    source.onmessage = take;
    source.addEventListener("end", (e) => {
      take(e as MessageEvent);
      setLive(false);
      source.close();
      call("ssm", "ListCommands", { CommandId: commandId })
        .then((r) => setCommand(r.Commands?.[0] ?? null))
        .catch(() => {});
    });
    source.onerror = () => {
      setLive(false);
      source.close();
    };
    return () => source.close();
  }, [commandId]);

  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={command ? `${command.DocumentName} · requested ${when(command.RequestedDateTime)}` : undefined}
        info={live ? <StatusIndicator type="loading">Live</StatusIndicator> : undefined}
      >
        Command {commandId}
      </Header>
      {error && <Alert type="error">{error}</Alert>}
      {command && (
        <Container>
          <SpaceBetween direction="horizontal" size="xl">
            <div>
              <Box variant="awsui-key-label">Status</Box>
              <Status status={command.Status} />
            </div>
            <div>
              <Box variant="awsui-key-label">Targets</Box>
              {command.TargetCount ?? "-"}
            </div>
            <div>
              <Box variant="awsui-key-label">Completed</Box>
              {command.CompletedCount ?? "-"}
            </div>
            <div>
              <Box variant="awsui-key-label">Errors</Box>
              {command.ErrorCount ?? "-"}
            </div>
          </SpaceBetween>
        </Container>
      )}
      {invocations.map((inv) => (
        <Container
          key={inv.InstanceId}
          header={
            <Header variant="h2" actions={<Status status={inv.Status} />}>
              {inv.InstanceId}
            </Header>
          }
        >
          {(inv.CommandPlugins ?? []).map((p) => (
            <ExpandableSection key={p.Name} defaultExpanded headerText={`${p.Name} (exit ${p.ResponseCode ?? "-"})`}>
              <pre className="output" aria-label={`Output of ${inv.InstanceId}`}>
                {p.Output || "(no output)"}
              </pre>
            </ExpandableSection>
          ))}
        </Container>
      ))}
    </SpaceBetween>
  );
}
