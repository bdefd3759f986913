import { useEffect, useMemo, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import Header from "@cloudscape-design/components/header";
import Pagination from "@cloudscape-design/components/pagination";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator, { StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import TextFilter from "@cloudscape-design/components/text-filter";
import { call, when, why } from "../api";

interface Invocation {
  InstanceId: string;
  InstanceName?: string;
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

/** Rows per page of the nodes' table: what a page renders when a change arrives, however
 * many nodes the command has. */
const ROWS_PER_PAGE = 25;

export function Status({ status }: { status: string }) {
  return <StatusIndicator type={STATUS[status] ?? "info"}>{status}</StatusIndicator>;
}

/** The exit code of an invocation's first step that did not exit 0, else its first step's. */
function exitCode(inv: Invocation): string {
  const codes = (inv.CommandPlugins ?? []).map((p) => p.ResponseCode).filter((c) => c !== undefined) as number[];
  if (codes.length === 0) return "-";
  return String(codes.find((c) => c !== 0) ?? codes[0]);
}

/**
 * The command's invocations as the server streams them: a snapshot, then only the
 * invocations that changed, merged by node. The map is replaced (not copied per change) once
 * per event, so a 1,000-node command costs one render per event, of one table page.
 */
function useLiveInvocations(commandId: string) {
  const [command, setCommand] = useState<any>(null);
  const [invocations, setInvocations] = useState<Map<string, Invocation>>(new Map());
  const [live, setLive] = useState(true);
  const [error, setError] = useState("");

  useEffect(() => {
    const source = new EventSource(`/console/api/commands/${encodeURIComponent(commandId)}/events`);
    const take = (e: MessageEvent, replace: boolean) => {
      const body = JSON.parse(e.data);
      if (body?.Command) setCommand(body.Command);
      const changed: Invocation[] = body?.CommandInvocations ?? [];
      if (!replace && changed.length === 0) return;
      setInvocations((old) => {
        const next = replace ? new Map<string, Invocation>() : new Map(old);
        for (const inv of changed) next.set(inv.InstanceId, inv);
        return next;
      });
    };
    source.addEventListener("snapshot", (e) => take(e as MessageEvent, true));
    source.onmessage = (e) => take(e, false);
    source.addEventListener("end", (e) => {
      take(e as MessageEvent, false);
      setLive(false);
      source.close();
    });
    source.onerror = () => {
      setLive(false);
      source.close();
      // Why the stream could not open (a denial, an unknown command) is the API's to say.
      call("ssm", "ListCommandInvocations", { CommandId: commandId, MaxResults: 1 }).catch((e) => setError(why(e)));
    };
    return () => source.close();
  }, [commandId]);

  return { command, invocations, live, error };
}

/** A command's nodes, each with its status and output, as the server streams them. */
export default function CommandDetail({ commandId }: { commandId: string }) {
  const { command, invocations, live, error } = useLiveInvocations(commandId);
  const [filter, setFilter] = useState("");
  const [page, setPage] = useState(1);
  const [chosen, setChosen] = useState<string | null>(null);

  const all = useMemo(() => [...invocations.values()], [invocations]);
  const counts = useMemo(() => {
    const by = new Map<string, number>();
    for (const inv of all) by.set(inv.Status, (by.get(inv.Status) ?? 0) + 1);
    return [...by.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [all]);
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const list = f
      ? all.filter((i) => [i.InstanceId, i.InstanceName, i.Status].some((v) => v?.toLowerCase().includes(f)))
      : all;
    return [...list].sort((a, b) => a.InstanceId.localeCompare(b.InstanceId));
  }, [all, filter]);
  const pages = Math.max(1, Math.ceil(shown.length / ROWS_PER_PAGE));
  const rows = shown.slice((Math.min(page, pages) - 1) * ROWS_PER_PAGE, Math.min(page, pages) * ROWS_PER_PAGE);
  // The node whose output is shown: the one chosen, else the first on the page.
  const selected = invocations.get(chosen ?? "") ?? rows[0];

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
      <Container>
        <SpaceBetween direction="horizontal" size="xl">
          {command && (
            <div>
              <Box variant="awsui-key-label">Status</Box>
              <Status status={command.Status} />
            </div>
          )}
          <div>
            <Box variant="awsui-key-label">Targets</Box>
            {command?.TargetCount ?? all.length}
          </div>
          {counts.map(([status, n]) => (
            <div key={status}>
              <Box variant="awsui-key-label">{status}</Box>
              <span aria-label={`${status} count`}>{n}</span>
            </div>
          ))}
        </SpaceBetween>
      </Container>
      <Table
        variant="container"
        header={<Header counter={`(${all.length})`}>Nodes</Header>}
        items={rows}
        trackBy="InstanceId"
        selectionType="single"
        selectedItems={selected ? [selected] : []}
        onSelectionChange={({ detail }) => setChosen(detail.selectedItems[0]?.InstanceId ?? null)}
        ariaLabels={{
          itemSelectionLabel: (_, item) => `Select ${item.InstanceId}`,
          selectionGroupLabel: "Node whose output is shown",
        }}
        filter={
          <TextFilter
            filteringText={filter}
            filteringPlaceholder="Find nodes by id, name or status"
            countText={`${shown.length} matches`}
            onChange={({ detail }) => {
              setFilter(detail.filteringText);
              setPage(1);
            }}
          />
        }
        pagination={
          <Pagination
            currentPageIndex={Math.min(page, pages)}
            pagesCount={pages}
            onChange={({ detail }) => setPage(detail.currentPageIndex)}
          />
        }
        empty={live ? "Waiting for the nodes…" : "No nodes."}
        columnDefinitions={[
          { id: "node", header: "Node", cell: (i) => i.InstanceId },
          { id: "name", header: "Name", cell: (i) => i.InstanceName || "-" },
          { id: "status", header: "Status", cell: (i) => <Status status={i.Status} /> },
          { id: "exit", header: "Exit code", cell: exitCode },
          {
            id: "output",
            header: "",
            cell: (i) => (
              <Button variant="inline-link" onClick={() => setChosen(i.InstanceId)} ariaLabel={`Show the output of ${i.InstanceId}`}>
                Output
              </Button>
            ),
          },
        ]}
      />
      {selected && <NodeOutput inv={selected} />}
    </SpaceBetween>
  );
}

/** One node's steps with their output. */
function NodeOutput({ inv }: { inv: Invocation }) {
  return (
    <Container
      header={
        <Header variant="h2" actions={<Status status={inv.Status} />}>
          {inv.InstanceId}
        </Header>
      }
    >
      {(inv.CommandPlugins ?? []).length === 0 && <Box color="text-body-secondary">No output yet.</Box>}
      {(inv.CommandPlugins ?? []).map((p) => (
        <ExpandableSection key={p.Name} defaultExpanded headerText={`${p.Name} (exit ${p.ResponseCode ?? "-"})`}>
          <pre className="output" aria-label={`Output of ${inv.InstanceId}`}>
            {p.Output || "(no output)"}
          </pre>
        </ExpandableSection>
      ))}
    </Container>
  );
}
