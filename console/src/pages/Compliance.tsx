import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { callAll, when } from "../api";
import { Section, useSection } from "./sections";

/** SeveritySummary's counts, most severe first, with the names people read. */
const SEVERITIES: [string, string][] = [
  ["CriticalCount", "Critical"],
  ["HighCount", "High"],
  ["MediumCount", "Medium"],
  ["LowCount", "Low"],
  ["InformationalCount", "Informational"],
  ["UnspecifiedCount", "Unspecified"],
];

/** `High 2 · Low 1`: the severities that count something. */
export function severityText(summary: Record<string, number> | undefined): string {
  return (
    SEVERITIES.filter(([key]) => (summary?.[key] ?? 0) > 0)
      .map(([key, name]) => `${name} ${summary?.[key]}`)
      .join(" · ") || "-"
  );
}

export function ComplianceStatus({ status }: { status?: string }) {
  if (!status) return <>-</>;
  return (
    <StatusIndicator type={status === "COMPLIANT" ? "success" : "error"}>
      {status === "COMPLIANT" ? "Compliant" : "Non-compliant"}
    </StatusIndicator>
  );
}

/** A resource's id, linked to its page when it is a managed node. */
function ResourceLink({ type, id }: { type?: string; id: string }) {
  return type === "ManagedInstance" ? <Link href={`#/fleet/${encodeURIComponent(id)}`}>{id}</Link> : <>{id}</>;
}

/** Compliance: per type, how many resources comply; per resource, its state; the chosen
 * node's items. */
export default function Compliance() {
  const [tick, setTick] = useState(0);
  const [chosen, setChosen] = useState<any | null>(null);

  const byType = useSection<any[]>(
    () => callAll("ssm", "ListComplianceSummaries", { MaxResults: 50 }, "ComplianceSummaryItems"),
    [tick],
  );
  const byResource = useSection<any[]>(
    () => callAll("ssm", "ListResourceComplianceSummaries", { MaxResults: 50 }, "ResourceComplianceSummaryItems"),
    [tick],
  );

  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description="What associations, patching and custom checks report about each node's state."
        actions={<Button iconName="refresh" ariaLabel="Refresh" onClick={() => setTick((t) => t + 1)} />}
      >
        Compliance
      </Header>
      <Section
        title="Compliance by type"
        counter={byType.data && `(${byType.data.length})`}
        description="Resources compliant and not, by their most severe finding."
        error={byType.error}
      >
        <TypeSummaries summaries={byType.data} />
      </Section>
      <Section
        title="Resources"
        counter={byResource.data && `(${byResource.data.length})`}
        description="One row per resource and compliance type; choose one to see its node's items."
        error={byResource.error}
      >
        <ResourceSummaries summaries={byResource.data} chosen={chosen} onChoose={setChosen} />
      </Section>
      {chosen && <NodeItems resourceId={chosen.ResourceId} resourceType={chosen.ResourceType} tick={tick} />}
    </SpaceBetween>
  );
}

function TypeSummaries({ summaries }: { summaries?: any[] }) {
  return (
    <Table
      variant="embedded"
      items={summaries ?? []}
      loading={!summaries}
      loadingText="Reading compliance"
      trackBy="ComplianceType"
      empty="Nothing reported compliance yet."
      columnDefinitions={[
        { id: "type", header: "Compliance type", isRowHeader: true, cell: (s) => s.ComplianceType },
        { id: "compliant", header: "Compliant", cell: (s) => String(s.CompliantSummary?.CompliantCount ?? 0) },
        {
          id: "noncompliant",
          header: "Non-compliant",
          cell: (s) => String(s.NonCompliantSummary?.NonCompliantCount ?? 0),
        },
        {
          id: "noncompliant-severity",
          header: "Non-compliant by severity",
          cell: (s) => severityText(s.NonCompliantSummary?.SeveritySummary),
        },
        {
          id: "compliant-severity",
          header: "Compliant by severity",
          cell: (s) => severityText(s.CompliantSummary?.SeveritySummary),
        },
      ]}
    />
  );
}

const rowKey = (r: any) => `${r.ResourceType}/${r.ResourceId}/${r.ComplianceType}`;

function ResourceSummaries({
  summaries,
  chosen,
  onChoose,
}: {
  summaries?: any[];
  chosen: any | null;
  onChoose: (row: any) => void;
}) {
  return (
    <Table
      variant="embedded"
      items={summaries ?? []}
      loading={!summaries}
      loadingText="Reading compliance"
      trackBy={rowKey}
      selectionType="single"
      selectedItems={chosen ? [chosen] : []}
      onSelectionChange={({ detail }) => onChoose(detail.selectedItems[0] ?? null)}
      ariaLabels={{
        selectionGroupLabel: "Resources",
        itemSelectionLabel: (_, r) => `Show the items of ${r.ResourceId} (${r.ComplianceType})`,
      }}
      empty="Nothing reported compliance yet."
      columnDefinitions={[
        {
          id: "resource",
          header: "Resource",
          isRowHeader: true,
          cell: (r) => <ResourceLink type={r.ResourceType} id={r.ResourceId} />,
        },
        { id: "type", header: "Compliance type", cell: (r) => r.ComplianceType },
        { id: "status", header: "Status", cell: (r) => <ComplianceStatus status={r.Status} /> },
        { id: "severity", header: "Overall severity", cell: (r) => r.OverallSeverity ?? "-" },
        { id: "compliant", header: "Compliant", cell: (r) => String(r.CompliantSummary?.CompliantCount ?? 0) },
        {
          id: "noncompliant",
          header: "Non-compliant",
          cell: (r) => String(r.NonCompliantSummary?.NonCompliantCount ?? 0),
        },
        { id: "at", header: "Reported", cell: (r) => when(r.ExecutionSummary?.ExecutionTime) },
      ]}
    />
  );
}

/** `key = value` lines of an item's Details. */
function Details({ details }: { details?: Record<string, string> }) {
  const pairs = Object.entries(details ?? {});
  if (pairs.length === 0) return <>-</>;
  return (
    <>
      {pairs.map(([k, v]) => (
        <div key={k}>
          {k} = <code>{v}</code>
        </div>
      ))}
    </>
  );
}

/** Every compliance item of one resource, of every type. */
function NodeItems({ resourceId, resourceType, tick }: { resourceId: string; resourceType: string; tick: number }) {
  const items = useSection<any[]>(
    () =>
      callAll(
        "ssm",
        "ListComplianceItems",
        { ResourceIds: [resourceId], ResourceTypes: [resourceType], MaxResults: 50 },
        "ComplianceItems",
        500,
      ),
    [resourceId, resourceType, tick],
  );
  return (
    <Section
      title={`Items of ${resourceId}`}
      counter={items.data && `(${items.data.length})`}
      description="Each finding reported for the resource, of every compliance type."
      error={items.error}
    >
      {items.data || items.error ? (
        <Table
          variant="embedded"
          items={items.data ?? []}
          trackBy={(i) => `${i.ComplianceType}/${i.Id}`}
          empty="No items."
          columnDefinitions={[
            { id: "type", header: "Compliance type", cell: (i) => i.ComplianceType },
            { id: "id", header: "Item", isRowHeader: true, cell: (i) => i.Id || "-" },
            { id: "title", header: "Title", cell: (i) => i.Title || "-" },
            { id: "status", header: "Status", cell: (i) => <ComplianceStatus status={i.Status} /> },
            { id: "severity", header: "Severity", cell: (i) => i.Severity ?? "-" },
            { id: "at", header: "Reported", cell: (i) => when(i.ExecutionSummary?.ExecutionTime) },
            { id: "execution", header: "Execution", cell: (i) => i.ExecutionSummary?.ExecutionId || "-" },
            { id: "details", header: "Details", cell: (i) => <Details details={i.Details} /> },
          ]}
        />
      ) : (
        <Box color="text-status-inactive">Reading…</Box>
      )}
    </Section>
  );
}
