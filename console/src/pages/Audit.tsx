import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import Select, { SelectProps } from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { call, verifyAuditTrail, when, why } from "../api";
import { TokenPager, useTokenPages } from "./sections";

/** The lookup attributes offered (LookupEvents takes one at a time); "" is every event. */
const ATTRIBUTES: SelectProps.Option[] = [
  { value: "", label: "Every event" },
  { value: "EventName", label: "Event name", description: "e.g. PutParameter" },
  { value: "Username", label: "User name", description: "an IAM user, root, or a role session" },
  { value: "ResourceName", label: "Resource ARN", description: "e.g. arn:aws:ssm:…:parameter/app/db" },
  { value: "EventSource", label: "Event source", description: "e.g. ssm.amazonaws.com" },
];

/** How far back to look, in seconds; 0 is no StartTime. The range is the browser's clock. */
const SINCE: SelectProps.Option[] = [
  { value: "0", label: "Any time" },
  { value: "3600", label: "Last hour" },
  { value: "86400", label: "Last 24 hours" },
  { value: "604800", label: "Last 7 days" },
];

/** What was asked: an attribute and its value, since when (epoch seconds, fixed when asked so
 * every page of one search covers the same range), and which asking this is (so Search asks
 * again even when nothing changed). */
interface Query {
  key: string;
  value: string;
  start?: number;
  asked: number;
}

/** An event of LookupEvents with its CloudTrailEvent read once. */
interface AuditEvent {
  EventId: string;
  EventName: string;
  EventTime: number;
  EventSource?: string;
  Username?: string;
  Resources?: { ResourceType?: string; ResourceName?: string }[];
  CloudTrailEvent?: string;
  detail: Record<string, any>;
}

interface EventsPage {
  events: AuditEvent[];
  next?: string;
}

function lookup(query: Query, token: string | undefined): Promise<EventsPage> {
  const input: Record<string, unknown> = { MaxResults: 50 };
  if (query.key && query.value) input.LookupAttributes = [{ AttributeKey: query.key, AttributeValue: query.value }];
  if (query.start !== undefined) input.StartTime = query.start;
  if (token) input.NextToken = token;
  return call("cloudtrail", "LookupEvents", input).then((r) => ({
    events: (r.Events ?? []).map((e: any) => ({ ...e, detail: parsed(e.CloudTrailEvent) })),
    next: r.NextToken,
  }));
}

function parsed(text: string | undefined): Record<string, any> {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return {};
  }
}

/** The audit trail: every API call made to the server, searched by one attribute. */
export default function Audit() {
  const [key, setKey] = useState<SelectProps.Option>(ATTRIBUTES[1]);
  const [value, setValue] = useState("");
  const [since, setSince] = useState<SelectProps.Option>(SINCE[0]);
  const [query, setQuery] = useState<Query>({ key: "", value: "", asked: 0 });
  const [shown, setShown] = useState<AuditEvent | null>(null);

  const pages = useTokenPages<EventsPage>((token) => lookup(query, token), [query]);
  const search = () => {
    const back = Number(since.value);
    setQuery({
      key: key.value ?? "",
      value: value.trim(),
      start: back ? Math.floor(Date.now() / 1000) - back : undefined,
      asked: query.asked + 1,
    });
  };

  return (
    <SpaceBetween size="l">
      <Verification />
      {pages.error && (
        <Alert type="error" header="Cannot search the audit trail">
          {pages.error}
        </Alert>
      )}
      <Table
        variant="full-page"
        loading={pages.loading}
        loadingText="Searching the audit trail"
        items={pages.page?.events ?? []}
        trackBy="EventId"
        header={
          <Header
            variant="awsui-h1-sticky"
            counter={pages.page ? `(${pages.page.events.length})` : undefined}
            description={
              query.key && query.value
                ? `Events whose ${labelOf(query.key)} is ${query.value}, newest first.`
                : "Every API call made to the server, newest first."
            }
            actions={<Button iconName="refresh" ariaLabel="Refresh" onClick={() => setQuery({ ...query, asked: query.asked + 1 })} />}
          >
            Audit trail
          </Header>
        }
        filter={
          <form
            onSubmit={(e) => {
              e.preventDefault();
              search();
            }}
          >
            <SpaceBetween direction="horizontal" size="s" alignItems="end">
              <FormField label="Look up by">
                <Select selectedOption={key} options={ATTRIBUTES} onChange={({ detail }) => setKey(detail.selectedOption)} />
              </FormField>
              <FormField label="Value">
                <Input
                  value={value}
                  disabled={!key.value}
                  placeholder={key.value ? "Exact value" : ""}
                  onChange={({ detail }) => setValue(detail.value)}
                />
              </FormField>
              <FormField label="Time range">
                <Select selectedOption={since} options={SINCE} onChange={({ detail }) => setSince(detail.selectedOption)} />
              </FormField>
              <Button variant="primary">Search</Button>
            </SpaceBetween>
          </form>
        }
        pagination={<TokenPager pages={pages} label="Pages of events" />}
        empty="No events found."
        columnDefinitions={[
          { id: "time", header: "Time", cell: (e) => when(e.EventTime) },
          {
            id: "name",
            header: "Event name",
            isRowHeader: true,
            cell: (e) => (
              <Button variant="inline-link" ariaLabel={`Show the event ${e.EventId}`} onClick={() => setShown(e)}>
                {e.EventName}
              </Button>
            ),
          },
          { id: "user", header: "User", cell: (e) => e.Username ?? e.detail.userIdentity?.type ?? "-" },
          { id: "source", header: "Source", cell: (e) => e.EventSource ?? "-" },
          {
            id: "error",
            header: "Error code",
            cell: (e) => (e.detail.errorCode ? <Box color="text-status-error">{e.detail.errorCode}</Box> : "-"),
          },
          { id: "resources", header: "Resources", cell: (e) => <Resources resources={e.Resources} /> },
        ]}
      />
      <EventModal event={shown} onClose={() => setShown(null)} />
    </SpaceBetween>
  );
}

/** Verify: is the chain of events whole (none edited, removed or reordered since it was
 * written) and does every exported file match its signed digest? */
function Verification() {
  const [busy, setBusy] = useState(false);
  const [verdict, setVerdict] = useState<any>(null);
  const [error, setError] = useState("");
  const verify = async () => {
    setBusy(true);
    setError("");
    try {
      setVerdict(await verifyAuditTrail());
    } catch (e) {
      setVerdict(null);
      setError(why(e));
    } finally {
      setBusy(false);
    }
  };
  const chain = verdict?.Chain;
  const digests = verdict?.Digests;
  return (
    <SpaceBetween size="s">
      <Box float="right">
        <Button onClick={verify} loading={busy}>
          Verify the trail
        </Button>
      </Box>
      {error && (
        <Alert type="error" header="Cannot verify the trail">
          {error}
        </Alert>
      )}
      {chain && (
        <Alert
          type={chain.Status === "Intact" && digests?.Status !== "Broken" ? "success" : "error"}
          header={chain.Status === "Intact" ? `The chain is intact: ${chain.Events} events` : `The chain is broken at event ${chain.Event}`}
        >
          <SpaceBetween size="xxs">
            {chain.Status === "Intact" ? (
              <Box>Last hash {chain.LastHash}</Box>
            ) : (
              <Box>{chain.Reason}</Box>
            )}
            {verdict.PrunedThrough && <Box>Events up to {verdict.PrunedThrough.Event} were pruned after export.</Box>}
            <Box>{digestLine(digests)}</Box>
          </SpaceBetween>
        </Alert>
      )}
    </SpaceBetween>
  );
}

function digestLine(digests: any): string {
  switch (digests?.Status) {
    case "Intact":
      return `Digests: ${digests.Digests} intact, signed by key ${digests.KeyId}, covering events ${digests.FirstEvent} to ${digests.LastEvent}.`;
    case "Broken":
      return `Digests broken: ${digests.Reason}`;
    default:
      return "Digests: none written yet (the trail is exported and signed periodically).";
  }
}

function labelOf(attribute: string): string {
  return (ATTRIBUTES.find((a) => a.value === attribute)?.label ?? attribute).toLowerCase();
}

function Resources({ resources }: { resources?: AuditEvent["Resources"] }) {
  if (!resources?.length) return <>-</>;
  return (
    <>
      {resources.map((r, i) => (
        <div key={i}>{r.ResourceName}</div>
      ))}
    </>
  );
}

/** The event as the trail keeps it (CloudTrail's JSON), indented. */
function EventModal({ event, onClose }: { event: AuditEvent | null; onClose: () => void }) {
  return (
    <Modal
      visible={event !== null}
      onDismiss={onClose}
      size="large"
      header={event ? `${event.EventName} · ${when(event.EventTime)}` : ""}
      footer={
        <Box float="right">
          <Button onClick={onClose}>Close</Button>
        </Box>
      }
    >
      {event && (
        <pre className="output" aria-label="Event JSON">
          {JSON.stringify(event.detail, null, 2)}
        </pre>
      )}
    </Modal>
  );
}
