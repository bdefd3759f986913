import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { when } from "../api";
import { Status } from "./CommandDetail";
import { targetsText, useListing } from "./sections";

/** `Success 2 · Failed 1`, from an association's AssociationStatusAggregatedCount. */
export function statusCounts(counts: Record<string, number> | undefined): string {
  return (
    Object.entries(counts ?? {})
      .map(([status, n]) => `${status} ${n}`)
      .join(" · ") || "-"
  );
}

/** Where an association applies: its targets, or the one node of an association made the
 * old way, with InstanceId. */
export function associationTargets(a: { InstanceId?: string; Targets?: any[] }): string {
  return a.InstanceId ? `InstanceId = ${a.InstanceId}` : targetsText(a.Targets);
}

/** State Manager: the account's associations, with how their last runs went. */
export default function Associations() {
  const { items: associations, loading, error, reload } = useListing("ssm", "ListAssociations", { MaxResults: 50 }, "Associations");

  return (
    <SpaceBetween size="l">
      {error && (
        <Alert type="error" header="Cannot list associations">
          {error}
        </Alert>
      )}
      <Table
        variant="full-page"
        loading={loading}
        loadingText="Reading associations"
        items={associations}
        trackBy="AssociationId"
        header={
          <Header
            variant="awsui-h1-sticky"
            counter={`(${associations.length})`}
            description="Documents applied to nodes on a schedule, and how their last runs went."
            actions={<Button iconName="refresh" ariaLabel="Refresh" onClick={reload} />}
          >
            State Manager
          </Header>
        }
        empty="No associations."
        columnDefinitions={[
          {
            id: "name",
            header: "Association",
            isRowHeader: true,
            cell: (a) => (
              <Link href={`#/associations/${encodeURIComponent(a.AssociationId)}`}>
                {a.AssociationName ?? a.AssociationId}
              </Link>
            ),
          },
          { id: "doc", header: "Document", cell: (a) => a.Name },
          { id: "targets", header: "Targets", cell: (a) => associationTargets(a) },
          { id: "schedule", header: "Schedule", cell: (a) => a.ScheduleExpression ?? "-" },
          { id: "last", header: "Last run", cell: (a) => when(a.LastExecutionDate) },
          {
            id: "status",
            header: "Status",
            cell: (a) => (a.Overview?.Status ? <Status status={a.Overview.Status} /> : "-"),
          },
          {
            id: "counts",
            header: "Nodes by status",
            cell: (a) => statusCounts(a.Overview?.AssociationStatusAggregatedCount),
          },
        ]}
      />
    </SpaceBetween>
  );
}
