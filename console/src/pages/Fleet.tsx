import { useEffect, useMemo, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator, { StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import Input from "@cloudscape-design/components/input";
import Pagination from "@cloudscape-design/components/pagination";
import Select, { SelectProps } from "@cloudscape-design/components/select";
import TextFilter from "@cloudscape-design/components/text-filter";
import { callAll, when, why } from "../api";
import { go } from "../route";

interface Node {
  InstanceId: string;
  ComputerName?: string;
  Name?: string;
  PingStatus: string;
  PlatformName?: string;
  PlatformVersion?: string;
  AgentVersion?: string;
  IPAddress?: string;
  LastPingDateTime?: number;
}

const PING: Record<string, StatusIndicatorProps.Type> = {
  Online: "success",
  ConnectionLost: "error",
  Inactive: "stopped",
};

const ROWS_PER_PAGE = 50;

const PING_FILTERS: SelectProps.Option[] = [
  { value: "any", label: "Any ping status" },
  { value: "Online", label: "Online" },
  { value: "ConnectionLost", label: "Connection lost" },
  { value: "Inactive", label: "Inactive" },
];

/** DescribeInstanceInformation's filters for a tag (`Key=Value`, or `Key` for any value) and
 * a ping status. */
function serverFilters(tag: string, ping: string): { Key: string; Values: string[] }[] {
  const filters = [];
  if (tag) {
    const [key, ...rest] = tag.split("=");
    const value = rest.join("=").trim();
    filters.push(value ? { Key: `tag:${key.trim()}`, Values: [value] } : { Key: "tag-key", Values: [key.trim()] });
  }
  if (ping !== "any") filters.push({ Key: "PingStatus", Values: [ping] });
  return filters;
}

export default function Fleet() {
  const [nodes, setNodes] = useState<Node[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [filter, setFilter] = useState("");
  const [page, setPage] = useState(1);
  // Filters the server applies (a tag, a ping status): the fleet may be large, and SSM's
  // DescribeInstanceInformation filters by them itself.
  const [tag, setTag] = useState("");
  const [ping, setPing] = useState("any");
  const [asked, setAsked] = useState({ tag: "", ping: "any" });

  const load = async () => {
    setLoading(true);
    setError("");
    try {
      const input: Record<string, unknown> = { MaxResults: 50 };
      const filters = serverFilters(asked.tag, asked.ping);
      if (filters.length) input.Filters = filters;
      setNodes(await callAll<Node>("ssm", "DescribeInstanceInformation", input, "InstanceInformationList"));
    } catch (e) {
      setError(why(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [asked]);

  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    if (!f) return nodes;
    return nodes.filter((n) =>
      [n.InstanceId, n.ComputerName, n.Name, n.PingStatus, n.PlatformName, n.IPAddress, n.AgentVersion]
        .filter(Boolean)
        .some((v) => String(v).toLowerCase().includes(f)),
    );
  }, [nodes, filter]);
  // A page of rows at a time: a fleet of thousands renders (and leaves) as fast as one of fifty.
  const pages = Math.max(1, Math.ceil(shown.length / ROWS_PER_PAGE));
  const current = Math.min(page, pages);
  const rows = shown.slice((current - 1) * ROWS_PER_PAGE, current * ROWS_PER_PAGE);

  return (
    <SpaceBetween size="l">
      {error && (
        <Alert type="error" header="Cannot list the fleet">
          {error}
        </Alert>
      )}
      <Table
        variant="full-page"
        loading={loading}
        loadingText="Reading the fleet"
        items={rows}
        trackBy="InstanceId"
        header={
          <Header
            variant="awsui-h1-sticky"
            counter={`(${nodes.length})`}
            description="Managed nodes and whether they are connected now."
            actions={
              <SpaceBetween direction="horizontal" size="xs">
                <Button iconName="refresh" ariaLabel="Refresh" onClick={load} />
                <Button variant="primary" onClick={() => go("/run")}>
                  Run command
                </Button>
              </SpaceBetween>
            }
          >
            Fleet
          </Header>
        }
        filter={
          <SpaceBetween direction="horizontal" size="s" alignItems="end">
            <TextFilter
              filteringText={filter}
              filteringPlaceholder="Find nodes"
              filteringAriaLabel="Find nodes"
              onChange={({ detail }) => {
                setFilter(detail.filteringText);
                setPage(1);
              }}
            />
            <form
              onSubmit={(e) => {
                e.preventDefault();
                setAsked({ tag: tag.trim(), ping });
                setPage(1);
              }}
            >
              <SpaceBetween direction="horizontal" size="xs" alignItems="end">
                <Input
                  value={tag}
                  placeholder="Tag: Key=Value or Key"
                  ariaLabel="Filter by tag"
                  onChange={({ detail }) => setTag(detail.value)}
                />
                <Select
                  selectedOption={PING_FILTERS.find((o) => o.value === ping) ?? PING_FILTERS[0]}
                  options={PING_FILTERS}
                  ariaLabel="Filter by ping status"
                  onChange={({ detail }) => setPing(detail.selectedOption.value ?? "any")}
                />
                <Button>Filter</Button>
              </SpaceBetween>
            </form>
          </SpaceBetween>
        }
        pagination={
          <Pagination
            currentPageIndex={current}
            pagesCount={pages}
            onChange={({ detail }) => setPage(detail.currentPageIndex)}
          />
        }
        empty={
          asked.tag || asked.ping !== "any"
            ? "No managed node matches the filters."
            : "No managed nodes. Register one with steward-agent register."
        }
        columnDefinitions={[
          {
            id: "id",
            header: "Node ID",
            cell: (n) => <Link href={`#/fleet/${encodeURIComponent(n.InstanceId)}`}>{n.InstanceId}</Link>,
            isRowHeader: true,
          },
          { id: "name", header: "Name", cell: (n) => n.Name || n.ComputerName || "-" },
          {
            id: "ping",
            header: "Ping status",
            cell: (n) => <StatusIndicator type={PING[n.PingStatus] ?? "info"}>{n.PingStatus}</StatusIndicator>,
          },
          {
            id: "platform",
            header: "Platform",
            cell: (n) => [n.PlatformName, n.PlatformVersion].filter(Boolean).join(" ") || "-",
          },
          { id: "agent", header: "Agent version", cell: (n) => n.AgentVersion || "-" },
          { id: "ip", header: "IP address", cell: (n) => n.IPAddress || "-" },
          { id: "ping-time", header: "Last ping", cell: (n) => when(n.LastPingDateTime) },
        ]}
      />
    </SpaceBetween>
  );
}
