import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator, { StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { when } from "../api";
import { useListing } from "./sections";

const WINDOW_STATUS: Record<string, StatusIndicatorProps.Type> = {
  PENDING: "pending",
  IN_PROGRESS: "in-progress",
  SUCCESS: "success",
  FAILED: "error",
  TIMED_OUT: "error",
  CANCELLING: "in-progress",
  CANCELLED: "stopped",
  SKIPPED_OVERLAPPING: "stopped",
};

/** A window run's or task's status, as the API spells it (`IN_PROGRESS`). */
export function WindowStatus({ status }: { status: string }) {
  return <StatusIndicator type={WINDOW_STATUS[status] ?? "info"}>{status}</StatusIndicator>;
}

export function Enabled({ enabled }: { enabled?: boolean }) {
  // A window created without Enabled is enabled, as in SSM.
  return enabled === false ? (
    <StatusIndicator type="stopped">No</StatusIndicator>
  ) : (
    <StatusIndicator type="success">Yes</StatusIndicator>
  );
}

/** `cron(0 2 ? * * *) · Europe/Paris`: the schedule with the time zone it is read in. */
export function scheduleText(w: { Schedule?: string; ScheduleTimezone?: string; ScheduleOffset?: number }): string {
  const offset = w.ScheduleOffset ? `offset ${w.ScheduleOffset} days` : "";
  return [w.Schedule, w.ScheduleTimezone, offset].filter(Boolean).join(" · ") || "-";
}

export function hours(n: number | undefined): string {
  return n === undefined ? "-" : `${n} h`;
}

/** Maintenance windows: when each opens next, for how long, and when it stops starting tasks. */
export default function Windows() {
  const { items: windows, loading, error, reload } = useListing("ssm", "DescribeMaintenanceWindows", { MaxResults: 50 }, "WindowIdentities");

  return (
    <SpaceBetween size="l">
      {error && (
        <Alert type="error" header="Cannot list maintenance windows">
          {error}
        </Alert>
      )}
      <Table
        variant="full-page"
        loading={loading}
        loadingText="Reading maintenance windows"
        items={windows}
        trackBy="WindowId"
        header={
          <Header
            variant="awsui-h1-sticky"
            counter={`(${windows.length})`}
            description="Scheduled periods in which registered tasks run on registered targets."
            actions={<Button iconName="refresh" ariaLabel="Refresh" onClick={reload} />}
          >
            Maintenance windows
          </Header>
        }
        empty="No maintenance windows."
        columnDefinitions={[
          {
            id: "name",
            header: "Name",
            isRowHeader: true,
            cell: (w) => <Link href={`#/windows/${encodeURIComponent(w.WindowId)}`}>{w.Name ?? w.WindowId}</Link>,
          },
          { id: "id", header: "Window ID", cell: (w) => w.WindowId },
          { id: "enabled", header: "Enabled", cell: (w) => <Enabled enabled={w.Enabled} /> },
          { id: "schedule", header: "Schedule", cell: (w) => scheduleText(w) },
          { id: "duration", header: "Duration", cell: (w) => hours(w.Duration) },
          { id: "cutoff", header: "Cutoff", cell: (w) => hours(w.Cutoff) },
          { id: "next", header: "Next run", cell: (w) => when(w.NextExecutionTime) },
        ]}
      />
    </SpaceBetween>
  );
}
