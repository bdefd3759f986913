import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { call, when, why } from "../api";
import { Status } from "./CommandDetail";
import { associationTargets, statusCounts } from "./Associations";
import { Field, Section, useSection } from "./sections";

/** Statuses of a run, or of a node in it, that will still change. */
const UNFINISHED = ["Pending", "InProgress", "Delayed"];
const EVERY_MS = 2000;
/** How long after the page opened (or the user acted) it keeps watching for a run to start or
 * finish: a run that never comes, because no node matches the targets, must not keep the page
 * asking for ever. */
const WATCH_MS = 120_000;

/** One association: its settings, its runs, and the nodes of its newest run; re-read while a
 * run is under way. */
export default function AssociationDetail({ id }: { id: string }) {
  const [tick, setTick] = useState(0);
  const [watchedSince, setWatchedSince] = useState(() => Date.now());
  // The newest run when "Apply association now" was pressed: until a newer one shows up
  // (the scheduler starts it a moment later), the page keeps looking for it.
  const [appliedAfter, setAppliedAfter] = useState<string | null>(null);
  const [applying, setApplying] = useState(false);
  const [applyError, setApplyError] = useState("");

  const description = useSection(
    () => call("ssm", "DescribeAssociation", { AssociationId: id }).then((r) => r.AssociationDescription),
    [id, tick],
  );
  const executions = useSection<any[]>(
    () =>
      call("ssm", "DescribeAssociationExecutions", { AssociationId: id, MaxResults: 50 }).then(
        (r) => r.AssociationExecutions ?? [],
      ),
    [id, tick],
  );
  const newest = executions.data?.[0];
  // Tagged with their run, so the nodes of the run before are not shown as the new one's.
  const targets = useSection<{ run: string; nodes: any[] } | null>(
    () =>
      newest
        ? call("ssm", "DescribeAssociationExecutionTargets", {
            AssociationId: id,
            ExecutionId: newest.ExecutionId,
            MaxResults: 50,
          }).then((r) => ({ run: newest.ExecutionId, nodes: r.AssociationExecutionTargets ?? [] }))
        : Promise.resolve(null),
    [id, newest?.ExecutionId, tick],
  );
  const newestNodes = newest && targets.data?.run === newest.ExecutionId ? targets.data?.nodes : undefined;

  const busy =
    executions.data?.length === 0 ||
    UNFINISHED.includes(newest?.Status) ||
    (newestNodes ?? []).some((t) => UNFINISHED.includes(t.Status)) ||
    (appliedAfter !== null && (newest?.ExecutionId ?? "") === appliedAfter);
  // The next read is timed from the last answer about runs, so slow answers never pile up.
  useEffect(() => {
    if (!busy || Date.now() - watchedSince > WATCH_MS) return;
    const timer = window.setTimeout(() => setTick((t) => t + 1), EVERY_MS);
    return () => window.clearTimeout(timer);
  }, [busy, executions, watchedSince]);

  const refresh = () => {
    setWatchedSince(Date.now());
    setTick((t) => t + 1);
  };
  const apply = async () => {
    setApplying(true);
    setApplyError("");
    try {
      await call("ssm", "StartAssociationsOnce", { AssociationIds: [id] });
      setAppliedAfter(newest?.ExecutionId ?? "");
      refresh();
    } catch (e) {
      setApplyError(why(e));
    } finally {
      setApplying(false);
    }
  };

  const a = description.data;
  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={a ? [a.Name, a.AssociationName ? id : undefined].filter(Boolean).join(" · ") : undefined}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button iconName="refresh" ariaLabel="Refresh" onClick={refresh} />
            <Button variant="primary" loading={applying} onClick={apply}>
              Apply association now
            </Button>
          </SpaceBetween>
        }
      >
        {a?.AssociationName ?? id}
      </Header>
      {applyError && (
        <Alert type="error" header="The association was not applied">
          {applyError}
        </Alert>
      )}
      <Section title="Association" error={description.error}>
        {a ? <Settings association={a} /> : <Box color="text-status-inactive">Reading…</Box>}
      </Section>
      <Section
        title="Execution history"
        counter={executions.data && `(${executions.data.length})`}
        error={executions.error}
      >
        <ExecutionHistory executions={executions.data} />
      </Section>
      <Section
        title="Nodes of the newest run"
        description={newest ? `Execution ${newest.ExecutionId}` : undefined}
        error={targets.error}
      >
        {executions.error ? (
          <Box color="text-status-inactive">Without the history, the newest run is not known.</Box>
        ) : (
          <RunTargets targets={executions.data && !newest ? null : newestNodes} />
        )}
      </Section>
    </SpaceBetween>
  );
}

/** What DescribeAssociation says: what runs, where, when and how fast. */
function Settings({ association: a }: { association: any }) {
  const parameters = Object.entries<string[]>(a.Parameters ?? {});
  return (
    <SpaceBetween size="l">
      <ColumnLayout columns={4} variant="text-grid">
        <Field label="Document">
          <Link href={`#/documents/${encodeURIComponent(a.Name)}`}>{a.Name}</Link>
        </Field>
        <Field label="Document version">{a.DocumentVersion}</Field>
        <Field label="Association version">{a.AssociationVersion}</Field>
        <Field label="Status">
          {a.Overview?.Status && <Status status={a.Overview.Status} />}
          {a.Overview?.DetailedStatus !== a.Overview?.Status && ` ${a.Overview?.DetailedStatus ?? ""}`}
        </Field>
        <Field label="Targets">{associationTargets(a)}</Field>
        <Field label="Schedule">
          {[
            a.ScheduleExpression,
            a.ScheduleOffset ? `offset ${a.ScheduleOffset} days` : "",
            a.ApplyOnlyAtCronInterval ? "only at the interval" : "",
          ]
            .filter(Boolean)
            .join(" · ")}
        </Field>
        <Field label="Compliance severity">{a.ComplianceSeverity}</Field>
        <Field label="Nodes by status">{statusCounts(a.Overview?.AssociationStatusAggregatedCount)}</Field>
        <Field label="Max concurrency">{a.MaxConcurrency}</Field>
        <Field label="Max errors">{a.MaxErrors}</Field>
        <Field label="Last run">{when(a.LastExecutionDate)}</Field>
        <Field label="Last success">{when(a.LastSuccessfulExecutionDate)}</Field>
        <Field label="Created">{when(a.Date)}</Field>
        <Field label="Updated">{when(a.LastUpdateAssociationDate)}</Field>
      </ColumnLayout>
      <Field label="Parameters">
        {parameters.length > 0 &&
          parameters.map(([name, values]) => (
            <div key={name}>
              {name}: <code>{values.join(", ")}</code>
            </div>
          ))}
      </Field>
    </SpaceBetween>
  );
}

/** The association's runs, newest first. */
function ExecutionHistory({ executions }: { executions?: any[] }) {
  return (
    <Table
      variant="embedded"
      items={executions ?? []}
      loading={!executions}
      loadingText="Reading runs"
      trackBy="ExecutionId"
      empty="Not run yet."
      columnDefinitions={[
        { id: "id", header: "Execution ID", isRowHeader: true, cell: (e: any) => e.ExecutionId },
        { id: "status", header: "Status", cell: (e: any) => <Status status={e.Status} /> },
        { id: "detail", header: "Detailed status", cell: (e: any) => e.DetailedStatus ?? "-" },
        { id: "created", header: "Started", cell: (e: any) => when(e.CreatedTime) },
        { id: "ended", header: "Ended", cell: (e: any) => when(e.LastExecutionDate) },
        // `{Failed=1, Success=2}` as the API writes it; the braces say nothing to a reader.
        {
          id: "counts",
          header: "Resources",
          cell: (e: any) => e.ResourceCountByStatus?.replace(/[{}]/g, "") || "-",
        },
      ]}
    />
  );
}

/** Each node of a run: how it went there, and the command that carried it. `null`: no run yet. */
function RunTargets({ targets }: { targets?: any[] | null }) {
  if (targets === null) return <Box color="text-status-inactive">Not run yet.</Box>;
  return (
    <Table
      variant="embedded"
      items={targets ?? []}
      loading={!targets}
      loadingText="Reading the run's nodes"
      trackBy="ResourceId"
      empty="The run reached no node."
      columnDefinitions={[
        {
          id: "resource",
          header: "Resource",
          isRowHeader: true,
          cell: (t: any) =>
            t.ResourceType === "ManagedInstance" ? (
              <Link href={`#/fleet/${encodeURIComponent(t.ResourceId)}`}>{t.ResourceId}</Link>
            ) : (
              t.ResourceId
            ),
        },
        { id: "type", header: "Type", cell: (t: any) => t.ResourceType },
        { id: "status", header: "Status", cell: (t: any) => <Status status={t.Status} /> },
        { id: "detail", header: "Detailed status", cell: (t: any) => t.DetailedStatus ?? "-" },
        { id: "at", header: "Last run", cell: (t: any) => when(t.LastExecutionDate) },
        {
          id: "output",
          header: "Output",
          cell: (t: any) =>
            t.OutputSource?.OutputSourceType === "RunCommand" && t.OutputSource.OutputSourceId ? (
              <Link href={`#/commands/${encodeURIComponent(t.OutputSource.OutputSourceId)}`}>
                {t.OutputSource.OutputSourceId}
              </Link>
            ) : (
              "-"
            ),
        },
      ]}
    />
  );
}
