import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { callAll, when } from "../api";
import { go } from "../route";
import { BaselineActions, DeregisterPatchGroup, Outcome, PatchNowButtons, RegisterPatchGroup } from "./PatchActions";
import { Section, useSection } from "./sections";

/** A managed node with what it last reported of its patches (none when it was never scanned). */
interface NodePatches {
  node: any;
  state?: any;
}

/** DescribeInstancePatchStates takes at most 50 nodes a call. */
const IDS_PER_CALL = 50;

/** Every managed node, then the patch states of those (50 nodes a call). */
async function nodePatches(): Promise<NodePatches[]> {
  const nodes = await callAll<any>("ssm", "DescribeInstanceInformation", { MaxResults: 50 }, "InstanceInformationList");
  const states = new Map<string, any>();
  for (let i = 0; i < nodes.length; i += IDS_PER_CALL) {
    const ids = nodes.slice(i, i + IDS_PER_CALL).map((n) => n.InstanceId as string);
    const page = await callAll<any>(
      "ssm",
      "DescribeInstancePatchStates",
      { InstanceIds: ids, MaxResults: 50 },
      "InstancePatchStates",
    );
    for (const s of page) states.set(s.InstanceId, s);
  }
  return nodes.map((node) => ({ node, state: states.get(node.InstanceId) }));
}

function Default({ yes }: { yes?: boolean }) {
  return yes ? <StatusIndicator type="success">Yes</StatusIndicator> : <>No</>;
}

/** Who provides a baseline: AWS's predefined ones are named by ARN, the account's own by `pb-` id. */
function provider(id: string): string {
  return id.startsWith("arn:") ? "AWS" : "This account";
}

/** Patch Manager: the baselines (predefined and own, which is each OS's default), the patch
 * groups and their baselines, and what each managed node last reported; and the writes of
 * each (a new baseline on a page of its own, the others here). Opening the page only reads. */
export default function Patch() {
  const [tick, setTick] = useState(0);
  // The last action's outcome; a change is read back at once.
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const done = (o: Outcome) => {
    setOutcome(o);
    if (o.type === "success") setTick((t) => t + 1);
  };

  const baselines = useSection<any[]>(
    () => callAll("ssm", "DescribePatchBaselines", { MaxResults: 100 }, "BaselineIdentities"),
    [tick],
  );
  const groups = useSection<any[]>(
    () => callAll("ssm", "DescribePatchGroups", { MaxResults: 100 }, "Mappings"),
    [tick],
  );
  const nodes = useSection<NodePatches[]>(nodePatches, [tick]);
  // The nodes' baselines by name when the baselines were read (no call of its own).
  const names = new Map<string, string>((baselines.data ?? []).map((b) => [b.BaselineId, b.BaselineName]));

  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description="The baselines that decide which patches each operating system gets, the patch groups, and what each node last reported."
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button iconName="refresh" ariaLabel="Refresh" onClick={() => setTick((t) => t + 1)} />
            <Button variant="primary" onClick={() => go("/patch/baselines/new")}>
              Create patch baseline
            </Button>
          </SpaceBetween>
        }
      >
        Patch Manager
      </Header>
      {outcome && (
        <Alert type={outcome.type} dismissible onDismiss={() => setOutcome(null)}>
          {outcome.text}
        </Alert>
      )}
      <Section
        title="Patch baselines"
        counter={baselines.data && `(${baselines.data.length})`}
        description="Predefined and the account's own; a node outside any patch group gets its operating system's default."
        error={baselines.error}
      >
        <Baselines baselines={baselines.data} onDone={done} />
      </Section>
      <Section
        title="Patch groups"
        counter={groups.data && `(${groups.data.length})`}
        description='Nodes tagged "Patch Group" with a registered group get its baseline for their operating system.'
        error={groups.error}
      >
        <SpaceBetween size="l">
          <RegisterPatchGroup baselines={baselines.data} onDone={done} />
          <Groups mappings={groups.data} onDone={done} />
        </SpaceBetween>
      </Section>
      <Section
        title="Nodes"
        counter={nodes.data && `(${nodes.data.length})`}
        description="Patch counts of each managed node's last Scan or Install (AWS-RunPatchBaseline)."
        error={nodes.error}
      >
        <Nodes nodes={nodes.data} names={names} />
      </Section>
    </SpaceBetween>
  );
}

function Baselines({ baselines, onDone }: { baselines?: any[]; onDone: (o: Outcome) => void }) {
  return (
    <Table
      variant="embedded"
      items={baselines ?? []}
      loading={!baselines}
      loadingText="Reading patch baselines"
      trackBy="BaselineId"
      empty="No patch baselines."
      columnDefinitions={[
        { id: "name", header: "Name", isRowHeader: true, cell: (b) => b.BaselineName || "-" },
        { id: "id", header: "ID", cell: (b) => b.BaselineId },
        { id: "os", header: "Operating system", cell: (b) => b.OperatingSystem || "-" },
        { id: "default", header: "Default", cell: (b) => <Default yes={b.DefaultBaseline} /> },
        { id: "provider", header: "Provided by", cell: (b) => provider(b.BaselineId) },
        { id: "description", header: "Description", cell: (b) => b.BaselineDescription || "-" },
        { id: "actions", header: "Actions", cell: (b) => <BaselineActions baseline={b} onDone={onDone} /> },
      ]}
    />
  );
}

function Groups({ mappings, onDone }: { mappings?: any[]; onDone: (o: Outcome) => void }) {
  return (
    <Table
      variant="embedded"
      items={mappings ?? []}
      loading={!mappings}
      loadingText="Reading patch groups"
      trackBy={(m) => `${m.PatchGroup}/${m.BaselineIdentity?.BaselineId}`}
      empty="No patch group has a baseline registered."
      columnDefinitions={[
        { id: "group", header: "Patch group", isRowHeader: true, cell: (m) => m.PatchGroup },
        { id: "baseline", header: "Baseline", cell: (m) => m.BaselineIdentity?.BaselineName || "-" },
        { id: "id", header: "Baseline ID", cell: (m) => m.BaselineIdentity?.BaselineId || "-" },
        { id: "os", header: "Operating system", cell: (m) => m.BaselineIdentity?.OperatingSystem || "-" },
        { id: "default", header: "Default", cell: (m) => <Default yes={m.BaselineIdentity?.DefaultBaseline} /> },
        { id: "actions", header: "Actions", cell: (m) => <DeregisterPatchGroup mapping={m} onDone={onDone} /> },
      ]}
    />
  );
}

/** A count of the node's state, or `-` when it has not reported. */
const count = (key: string) => (n: NodePatches) => (n.state ? String(n.state[key] ?? 0) : "-");

/** The nodes' patch states; the nodes chosen in the table can be scanned or patched now. */
function Nodes({ nodes, names }: { nodes?: NodePatches[]; names: Map<string, string> }) {
  const [chosen, setChosen] = useState<NodePatches[]>([]);
  return (
    <SpaceBetween size="m">
      <PatchNowButtons nodeIds={chosen.map((n) => n.node.InstanceId)} />
      <NodeTable nodes={nodes} names={names} chosen={chosen} onChoose={setChosen} />
    </SpaceBetween>
  );
}

function NodeTable({
  nodes,
  names,
  chosen,
  onChoose,
}: {
  nodes?: NodePatches[];
  names: Map<string, string>;
  chosen: NodePatches[];
  onChoose: (chosen: NodePatches[]) => void;
}) {
  return (
    <Table
      variant="embedded"
      items={nodes ?? []}
      selectionType="multi"
      selectedItems={chosen}
      onSelectionChange={({ detail }) => onChoose(detail.selectedItems)}
      ariaLabels={{
        selectionGroupLabel: "Nodes to scan or patch",
        allItemsSelectionLabel: () => "Select all nodes",
        itemSelectionLabel: (_, n) => `Select ${n.node.InstanceId}`,
      }}
      loading={!nodes}
      loadingText="Reading patch states"
      trackBy={(n) => n.node.InstanceId}
      empty="No managed nodes."
      columnDefinitions={[
        {
          id: "node",
          header: "Node",
          isRowHeader: true,
          cell: (n) => <Link href={`#/fleet/${encodeURIComponent(n.node.InstanceId)}`}>{n.node.InstanceId}</Link>,
        },
        { id: "name", header: "Computer name", cell: (n) => n.node.ComputerName || "-" },
        {
          id: "baseline",
          header: "Baseline",
          cell: (n) => (n.state ? names.get(n.state.BaselineId) || n.state.BaselineId : "-"),
        },
        { id: "group", header: "Patch group", cell: (n) => n.state?.PatchGroup || "-" },
        { id: "installed", header: "Installed", cell: count("InstalledCount") },
        { id: "missing", header: "Missing", cell: count("MissingCount") },
        { id: "failed", header: "Failed", cell: count("FailedCount") },
        { id: "other", header: "Installed other", cell: count("InstalledOtherCount") },
        { id: "na", header: "Not applicable", cell: count("NotApplicableCount") },
        {
          id: "operation",
          header: "Operation",
          cell: (n) => (n.state ? n.state.Operation : <StatusIndicator type="stopped">Not scanned yet</StatusIndicator>),
        },
        { id: "ended", header: "Operation ended", cell: (n) => when(n.state?.OperationEndTime) },
      ]}
    />
  );
}
