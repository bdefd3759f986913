import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { call, when } from "../api";
import { Field, Section, targetsText, useSection } from "./sections";
import { Enabled, hours, scheduleText, WindowStatus } from "./Windows";

/** One maintenance window: its settings, targets, tasks and runs, and the tasks of the run
 * chosen in the history (the newest until another is chosen). */
export default function WindowDetail({ id }: { id: string }) {
  const [tick, setTick] = useState(0);
  // Held with its window: another window's page starts again from its own newest run.
  const [chosen, setChosen] = useState<{ window: string; run: string } | undefined>(undefined);

  const details = useSection(() => call("ssm", "GetMaintenanceWindow", { WindowId: id }), [id, tick]);
  const targets = useSection<any[]>(
    () =>
      call("ssm", "DescribeMaintenanceWindowTargets", { WindowId: id, MaxResults: 100 }).then((r) => r.Targets ?? []),
    [id, tick],
  );
  const tasks = useSection<any[]>(
    () => call("ssm", "DescribeMaintenanceWindowTasks", { WindowId: id, MaxResults: 100 }).then((r) => r.Tasks ?? []),
    [id, tick],
  );
  const runs = useSection<any[]>(
    () =>
      call("ssm", "DescribeMaintenanceWindowExecutions", { WindowId: id, MaxResults: 50 }).then(
        (r) => r.WindowExecutions ?? [],
      ),
    [id, tick],
  );
  const runId = (chosen?.window === id ? chosen.run : undefined) ?? runs.data?.[0]?.WindowExecutionId;
  // Tagged with their run, so the tasks of the run chosen before are not shown as this one's.
  const runTasks = useSection<{ run: string; tasks: any[] } | null>(
    () =>
      runId
        ? call("ssm", "DescribeMaintenanceWindowExecutionTasks", { WindowExecutionId: runId, MaxResults: 100 }).then(
            (r) => ({ run: runId, tasks: r.WindowExecutionTaskIdentities ?? [] }),
          )
        : Promise.resolve(null),
    [runId, tick],
  );

  const w = details.data;
  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={w ? [id, w.Description].filter(Boolean).join(" · ") : undefined}
        actions={<Button iconName="refresh" ariaLabel="Refresh" onClick={() => setTick((t) => t + 1)} />}
      >
        {w?.Name ?? id}
      </Header>
      <Section title="Window" error={details.error}>
        {w ? <Settings details={w} /> : <Box color="text-status-inactive">Reading…</Box>}
      </Section>
      <Section title="Targets" counter={targets.data && `(${targets.data.length})`} error={targets.error}>
        <WindowTargets targets={targets.data} />
      </Section>
      <Section title="Tasks" counter={tasks.data && `(${tasks.data.length})`} error={tasks.error}>
        <WindowTasks tasks={tasks.data} />
      </Section>
      <Section
        title="History"
        counter={runs.data && `(${runs.data.length})`}
        description="Choose a run to see its tasks."
        error={runs.error}
      >
        <Runs runs={runs.data} chosen={runId} onChoose={(run) => setChosen({ window: id, run })} />
      </Section>
      {runId && (
        <Section title="Tasks of the run" description={`Execution ${runId}`} error={runTasks.error}>
          <RunTasks tasks={runTasks.data?.run === runId ? runTasks.data?.tasks : undefined} />
        </Section>
      )}
    </SpaceBetween>
  );
}

/** What GetMaintenanceWindow says: when it opens, for how long, and whether it may. */
function Settings({ details: w }: { details: any }) {
  return (
    <ColumnLayout columns={4} variant="text-grid">
      <Field label="Enabled">
        <Enabled enabled={w.Enabled} />
      </Field>
      <Field label="Schedule">{scheduleText(w)}</Field>
      <Field label="Duration">{hours(w.Duration)}</Field>
      <Field label="Cutoff">{hours(w.Cutoff)}</Field>
      <Field label="Next run">{when(w.NextExecutionTime)}</Field>
      <Field label="Starts">{when(w.StartDate)}</Field>
      <Field label="Ends">{when(w.EndDate)}</Field>
      <Field label="Unregistered targets allowed">{w.AllowUnassociatedTargets ? "Yes" : "No"}</Field>
      <Field label="Created">{when(w.CreatedDate)}</Field>
      <Field label="Modified">{when(w.ModifiedDate)}</Field>
    </ColumnLayout>
  );
}

function WindowTargets({ targets }: { targets?: any[] }) {
  return (
    <Table
      variant="embedded"
      items={targets ?? []}
      loading={!targets}
      loadingText="Reading targets"
      trackBy="WindowTargetId"
      empty="No targets registered."
      columnDefinitions={[
        { id: "id", header: "Target ID", isRowHeader: true, cell: (t: any) => t.WindowTargetId },
        { id: "name", header: "Name", cell: (t: any) => t.Name ?? "-" },
        { id: "type", header: "Resource type", cell: (t: any) => t.ResourceType },
        { id: "targets", header: "Targets", cell: (t: any) => targetsText(t.Targets) },
        { id: "owner", header: "Owner information", cell: (t: any) => t.OwnerInformation ?? "-" },
      ]}
    />
  );
}

function WindowTasks({ tasks }: { tasks?: any[] }) {
  return (
    <Table
      variant="embedded"
      items={tasks ?? []}
      loading={!tasks}
      loadingText="Reading tasks"
      trackBy="WindowTaskId"
      empty="No tasks registered."
      columnDefinitions={[
        { id: "id", header: "Task ID", isRowHeader: true, cell: (t: any) => t.WindowTaskId },
        { id: "name", header: "Name", cell: (t: any) => t.Name ?? "-" },
        { id: "type", header: "Type", cell: (t: any) => t.Type },
        { id: "arn", header: "Document or function", cell: (t: any) => t.TaskArn },
        { id: "targets", header: "Targets", cell: (t: any) => targetsText(t.Targets) },
        { id: "priority", header: "Priority", cell: (t: any) => t.Priority ?? "-" },
        {
          id: "rate",
          header: "Concurrency · errors",
          cell: (t: any) => `${t.MaxConcurrency ?? "-"} · ${t.MaxErrors ?? "-"}`,
        },
        { id: "cutoff", header: "At the cutoff", cell: (t: any) => t.CutoffBehavior ?? "-" },
      ]}
    />
  );
}

/** The window's runs, newest first; one is chosen at a time. */
function Runs({ runs, chosen, onChoose }: { runs?: any[]; chosen?: string; onChoose: (id: string) => void }) {
  const items = runs ?? [];
  return (
    <Table
      variant="embedded"
      items={items}
      loading={!runs}
      loadingText="Reading runs"
      trackBy="WindowExecutionId"
      selectionType="single"
      selectedItems={items.filter((r) => r.WindowExecutionId === chosen)}
      onSelectionChange={({ detail }) => detail.selectedItems[0] && onChoose(detail.selectedItems[0].WindowExecutionId)}
      ariaLabels={{
        itemSelectionLabel: (_, r) => `Run ${r.WindowExecutionId}`,
        selectionGroupLabel: "Runs",
        allItemsSelectionLabel: () => "All runs",
      }}
      empty="Not run yet."
      columnDefinitions={[
        { id: "id", header: "Execution ID", isRowHeader: true, cell: (r: any) => r.WindowExecutionId },
        { id: "status", header: "Status", cell: (r: any) => <WindowStatus status={r.Status} /> },
        { id: "detail", header: "Status details", cell: (r: any) => r.StatusDetails ?? "-" },
        { id: "start", header: "Started", cell: (r: any) => when(r.StartTime) },
        { id: "end", header: "Ended", cell: (r: any) => when(r.EndTime) },
      ]}
    />
  );
}

function RunTasks({ tasks }: { tasks?: any[] }) {
  return (
    <Table
      variant="embedded"
      items={tasks ?? []}
      loading={!tasks}
      loadingText="Reading the run's tasks"
      trackBy="TaskExecutionId"
      empty="The run started no task."
      columnDefinitions={[
        { id: "id", header: "Task execution ID", isRowHeader: true, cell: (t: any) => t.TaskExecutionId },
        { id: "arn", header: "Document or function", cell: (t: any) => t.TaskArn ?? "-" },
        { id: "type", header: "Type", cell: (t: any) => t.TaskType ?? "-" },
        { id: "status", header: "Status", cell: (t: any) => <WindowStatus status={t.Status} /> },
        { id: "detail", header: "Status details", cell: (t: any) => t.StatusDetails ?? "-" },
        { id: "start", header: "Started", cell: (t: any) => when(t.StartTime) },
        { id: "end", header: "Ended", cell: (t: any) => when(t.EndTime) },
      ]}
    />
  );
}
