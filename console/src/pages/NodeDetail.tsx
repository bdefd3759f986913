import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { call, when } from "../api";
import { go } from "../route";
import { Field, Section, useSection } from "./sections";

/** A managed node: what it is, its tags, recent commands, associations, patch state,
 * installed applications and sessions. */
export default function NodeDetail({ id }: { id: string }) {
  const info = useSection(
    () =>
      call("ssm", "DescribeInstanceInformation", { Filters: [{ Key: "InstanceIds", Values: [id] }] }).then(
        (r) => r.InstanceInformationList?.[0],
      ),
    [id],
  );
  const tags = useSection(
    () => call("ssm", "ListTagsForResource", { ResourceType: "ManagedInstance", ResourceId: id }).then((r) => r.TagList ?? []),
    [id],
  );
  const commands = useSection(
    () => call("ssm", "ListCommandInvocations", { InstanceId: id, MaxResults: 10 }).then((r) => r.CommandInvocations ?? []),
    [id],
  );
  const associations = useSection(
    () => call("ssm", "DescribeInstanceAssociationsStatus", { InstanceId: id }).then((r) => r.InstanceAssociationStatusInfos ?? []),
    [id],
  );
  const patch = useSection(
    () => call("ssm", "DescribeInstancePatchStates", { InstanceIds: [id] }).then((r) => r.InstancePatchStates?.[0] ?? null),
    [id],
  );
  const applications = useSection(
    () =>
      call("ssm", "ListInventoryEntries", { InstanceId: id, TypeName: "AWS:Application", MaxResults: 50 }).then(
        (r) => r.Entries ?? [],
      ),
    [id],
  );
  const sessions = useSection(
    () =>
      call("ssm", "DescribeSessions", { State: "History", Filters: [{ key: "Target", value: id }], MaxResults: 10 }).then(
        (r) => r.Sessions ?? [],
      ),
    [id],
  );
  const n = info.data;

  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={n ? [n.ComputerName, n.PlatformName, n.PlatformVersion].filter(Boolean).join(" · ") : undefined}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button onClick={() => go(`/sessions/${encodeURIComponent(id)}`)}>Start session</Button>
            <Button variant="primary" onClick={() => go("/run")}>
              Run command
            </Button>
          </SpaceBetween>
        }
      >
        {id}
      </Header>
      {info.error && <Alert type="error">{info.error}</Alert>}
      {info.data === undefined && !info.error ? null : !n && !info.error ? (
        <Alert type="warning">No such managed node.</Alert>
      ) : null}
      {n && (
        <Container header={<Header variant="h2">Node</Header>}>
          <ColumnLayout columns={4} variant="text-grid">
            <Field label="Ping status">
              <StatusIndicator type={n.PingStatus === "Online" ? "success" : "stopped"}>{n.PingStatus}</StatusIndicator>
            </Field>
            <Field label="Agent version">{n.AgentVersion}</Field>
            <Field label="IP address">{n.IPAddress}</Field>
            <Field label="Last ping">{when(n.LastPingDateTime)}</Field>
            <Field label="Platform">{[n.PlatformType, n.PlatformName, n.PlatformVersion].filter(Boolean).join(" ")}</Field>
            <Field label="IAM role">{n.IamRole}</Field>
            <Field label="Registered">{when(n.RegistrationDate)}</Field>
            <Field label="Activation">{n.ActivationId}</Field>
          </ColumnLayout>
        </Container>
      )}
      <Section title="Tags" error={tags.error}>
        <Table
          variant="embedded"
          items={tags.data ?? []}
          loading={!tags.data && !tags.error}
          empty="No tags."
          columnDefinitions={[
            { id: "key", header: "Key", cell: (t: any) => t.Key, isRowHeader: true },
            { id: "value", header: "Value", cell: (t: any) => t.Value },
          ]}
        />
      </Section>
      <Section title="Recent commands" error={commands.error}>
        <Table
          variant="embedded"
          items={commands.data ?? []}
          loading={!commands.data && !commands.error}
          empty="No commands."
          columnDefinitions={[
            {
              id: "id",
              header: "Command",
              isRowHeader: true,
              cell: (c: any) => <Link href={`#/commands/${c.CommandId}`}>{c.CommandId}</Link>,
            },
            { id: "doc", header: "Document", cell: (c: any) => c.DocumentName },
            { id: "status", header: "Status", cell: (c: any) => c.Status },
            { id: "at", header: "Requested", cell: (c: any) => when(c.RequestedDateTime) },
          ]}
        />
      </Section>
      <Section title="Associations" error={associations.error}>
        <Table
          variant="embedded"
          items={associations.data ?? []}
          loading={!associations.data && !associations.error}
          empty="No associations apply to this node."
          columnDefinitions={[
            { id: "name", header: "Document", cell: (a: any) => a.Name, isRowHeader: true },
            { id: "status", header: "Status", cell: (a: any) => a.Status },
            { id: "at", header: "Last run", cell: (a: any) => when(a.ExecutionDate) },
          ]}
        />
      </Section>
      <Section title="Patches" error={patch.error}>
        {patch.data ? (
          <ColumnLayout columns={4} variant="text-grid">
            <Field label="Baseline">{patch.data.BaselineId}</Field>
            <Field label="Last operation">{`${patch.data.Operation} · ${when(patch.data.OperationEndTime)}`}</Field>
            <Field label="Missing">{String(patch.data.MissingCount ?? 0)}</Field>
            <Field label="Installed">{String(patch.data.InstalledCount ?? 0)}</Field>
            <Field label="Failed">{String(patch.data.FailedCount ?? 0)}</Field>
            <Field label="Pending reboot">{String(patch.data.InstalledPendingRebootCount ?? 0)}</Field>
            <Field label="Rejected">{String(patch.data.InstalledRejectedCount ?? 0)}</Field>
            <Field label="Other">{String(patch.data.InstalledOtherCount ?? 0)}</Field>
          </ColumnLayout>
        ) : (
          <Box color="text-status-inactive">{patch.data === null ? "Not scanned yet." : "Reading…"}</Box>
        )}
      </Section>
      <Section title="Applications (first 50)" error={applications.error}>
        <Table
          variant="embedded"
          items={applications.data ?? []}
          loading={!applications.data && !applications.error}
          empty="No inventory gathered yet."
          columnDefinitions={[
            { id: "name", header: "Name", cell: (a: any) => a.Name, isRowHeader: true },
            { id: "version", header: "Version", cell: (a: any) => a.Version },
            { id: "type", header: "Type", cell: (a: any) => a.ApplicationType || "-" },
          ]}
        />
      </Section>
      <Section title="Sessions" error={sessions.error}>
        <Table
          variant="embedded"
          items={sessions.data ?? []}
          loading={!sessions.data && !sessions.error}
          empty="No sessions."
          columnDefinitions={[
            { id: "id", header: "Session", cell: (s: any) => s.SessionId, isRowHeader: true },
            { id: "owner", header: "Owner", cell: (s: any) => (s.Owner ?? "").split(":").pop() },
            { id: "start", header: "Started", cell: (s: any) => when(s.StartDate) },
            { id: "end", header: "Ended", cell: (s: any) => when(s.EndDate) },
          ]}
        />
      </Section>
    </SpaceBetween>
  );
}
