import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { callAll, when, why } from "../api";
import { go } from "../route";

/** Nodes to open a shell on, and the sessions so far, each recorded one replayable. */
export default function Sessions() {
  const [nodes, setNodes] = useState<any[]>([]);
  const [history, setHistory] = useState<any[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");

  useEffect(() => {
    Promise.all([
      callAll("ssm", "DescribeInstanceInformation", { MaxResults: 50 }, "InstanceInformationList"),
      callAll("ssm", "DescribeSessions", { State: "Active", MaxResults: 200 }, "Sessions", 200),
      callAll("ssm", "DescribeSessions", { State: "History", MaxResults: 200 }, "Sessions", 200),
    ])
      .then(([n, active, past]) => {
        setNodes(n);
        setHistory([...active, ...past]);
      })
      .catch((e) => setError(why(e)))
      .finally(() => setLoading(false));
  }, []);

  return (
    <SpaceBetween size="l">
      {error && <Alert type="error">{error}</Alert>}
      <Table
        loading={loading}
        loadingText="Reading the fleet"
        items={nodes}
        header={
          <Header variant="h1" description="A shell on a node, in the browser, as Session Manager opens it.">
            Session Manager
          </Header>
        }
        empty="No managed nodes."
        columnDefinitions={[
          { id: "id", header: "Node ID", cell: (n) => n.InstanceId, isRowHeader: true },
          { id: "name", header: "Name", cell: (n) => n.ComputerName ?? "-" },
          {
            id: "ping",
            header: "Ping status",
            cell: (n) => (
              <StatusIndicator type={n.PingStatus === "Online" ? "success" : "stopped"}>{n.PingStatus}</StatusIndicator>
            ),
          },
          {
            id: "start",
            header: "Shell",
            cell: (n) => (
              <Button
                disabled={n.PingStatus !== "Online"}
                ariaLabel={`Start a session on ${n.InstanceId}`}
                onClick={() => go(`/sessions/${n.InstanceId}`)}
              >
                Start session
              </Button>
            ),
          },
        ]}
      />
      <Table
        items={history}
        header={<Header variant="h2">Sessions</Header>}
        empty="No sessions yet."
        columnDefinitions={[
          { id: "id", header: "Session ID", cell: (s) => s.SessionId },
          { id: "target", header: "Node", cell: (s) => s.Target },
          { id: "owner", header: "Owner", cell: (s) => s.Owner?.split(":").pop() ?? "-" },
          { id: "status", header: "Status", cell: (s) => s.Status },
          { id: "start", header: "Started", cell: (s) => when(s.StartDate) },
          { id: "end", header: "Ended", cell: (s) => when(s.EndDate) },
          {
            id: "replay",
            header: "Transcript",
            cell: (s) =>
              s.OutputUrl ? (
                <Button ariaLabel={`Replay ${s.SessionId}`} onClick={() => go(`/replay/${s.SessionId}`)}>
                  Replay
                </Button>
              ) : (
                "-"
              ),
          },
        ]}
      />
    </SpaceBetween>
  );
}
