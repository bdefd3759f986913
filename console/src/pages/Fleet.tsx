import { useEffect, useMemo, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator, { StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
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

export default function Fleet() {
  const [nodes, setNodes] = useState<Node[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [filter, setFilter] = useState("");

  const load = async () => {
    setLoading(true);
    setError("");
    try {
      setNodes(await callAll<Node>("ssm", "DescribeInstanceInformation", { MaxResults: 50 }, "InstanceInformationList"));
    } catch (e) {
      setError(why(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load();
  }, []);

  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    if (!f) return nodes;
    return nodes.filter((n) =>
      [n.InstanceId, n.ComputerName, n.Name, n.PingStatus, n.PlatformName, n.IPAddress, n.AgentVersion]
        .filter(Boolean)
        .some((v) => String(v).toLowerCase().includes(f)),
    );
  }, [nodes, filter]);

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
        items={shown}
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
          <TextFilter
            filteringText={filter}
            filteringPlaceholder="Find nodes"
            filteringAriaLabel="Find nodes"
            onChange={({ detail }) => setFilter(detail.filteringText)}
          />
        }
        empty="No managed nodes. Register one with steward-agent register."
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
