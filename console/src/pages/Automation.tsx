import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { callAll, when, why } from "../api";
import { Status } from "./CommandDetail";

/** Automation executions, newest first. */
export default function Automation() {
  const [executions, setExecutions] = useState<any[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");

  useEffect(() => {
    callAll("ssm", "DescribeAutomationExecutions", { MaxResults: 50 }, "AutomationExecutionMetadataList", 500)
      .then(setExecutions)
      .catch((e) => setError(why(e)))
      .finally(() => setLoading(false));
  }, []);

  return (
    <SpaceBetween size="l">
      {error && <Alert type="error">{error}</Alert>}
      <Table
        variant="full-page"
        loading={loading}
        loadingText="Reading executions"
        items={executions}
        header={
          <Header variant="awsui-h1-sticky" counter={`(${executions.length})`} description="Runbook executions.">
            Automation
          </Header>
        }
        empty="No executions yet."
        columnDefinitions={[
          {
            id: "id",
            header: "Execution ID",
            isRowHeader: true,
            cell: (e) => <Link href={`#/automation/${e.AutomationExecutionId}`}>{e.AutomationExecutionId}</Link>,
          },
          { id: "doc", header: "Runbook", cell: (e) => e.DocumentName },
          { id: "status", header: "Status", cell: (e) => <Status status={e.AutomationExecutionStatus} /> },
          { id: "step", header: "Current step", cell: (e) => e.CurrentStepName ?? "-" },
          { id: "start", header: "Started", cell: (e) => when(e.ExecutionStartTime) },
          { id: "end", header: "Ended", cell: (e) => when(e.ExecutionEndTime) },
          { id: "by", header: "Started by", cell: (e) => e.ExecutedBy?.split(":").pop() ?? "-" },
        ]}
      />
    </SpaceBetween>
  );
}
