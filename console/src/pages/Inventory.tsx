import { useMemo, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import Select, { SelectProps } from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { call, callAll, when } from "../api";
import { Field, Section, TokenPager, useSection, useTokenPages } from "./sections";

const APPLICATIONS = "AWS:Application";
const INSTANCE_INFORMATION = "AWS:InstanceInformation";

/** A node as GetInventory answers by default: its AWS:InstanceInformation, when it sent one. */
interface InventoryNode {
  id: string;
  info: Record<string, string>;
  captured?: string;
}

/** An inventory type as GetInventorySchema describes it. */
interface InventoryType {
  TypeName: string;
  DisplayName?: string;
  Version?: string;
  Attributes: { Name: string; DataType: string }[];
}

function nodesOf(entities: any[]): InventoryNode[] {
  return entities.map((e) => {
    const item = e.Data?.[INSTANCE_INFORMATION];
    return { id: e.Id, info: item?.Content?.[0] ?? {}, captured: item?.CaptureTime };
  });
}

/** `Ubuntu 22.04 (Linux)`. */
function platformText(info: Record<string, string>): string {
  const name = [info.PlatformName, info.PlatformVersion].filter(Boolean).join(" ");
  return [name, info.PlatformType && `(${info.PlatformType})`].filter(Boolean).join(" ") || "-";
}

/** `Ubuntu 22.04 × 3 · Debian 12 × 1`: how many nodes run each platform. */
function platformCounts(nodes: InventoryNode[]): string {
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const name = [n.info.PlatformName, n.info.PlatformVersion].filter(Boolean).join(" ") || "Unknown";
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([name, n]) => `${name} × ${n}`).join(" · ");
}

/** Inventory across the fleet: the nodes that reported, how many applications each has, the
 * types there are, and one node's entries of one type. */
export default function Inventory() {
  const [tick, setTick] = useState(0);
  const [node, setNode] = useState("");
  const [typeName, setTypeName] = useState(APPLICATIONS);

  const nodes = useSection<InventoryNode[]>(
    () => callAll("ssm", "GetInventory", { MaxResults: 50 }, "Entities").then(nodesOf),
    [tick],
  );
  // GetInventory answers one type per node; the applications are asked for on their own, and
  // only counted here (their entries are read one node at a time below).
  const applications = useSection<Map<string, number>>(
    () =>
      callAll("ssm", "GetInventory", { ResultAttributes: [{ TypeName: APPLICATIONS }], MaxResults: 50 }, "Entities").then(
        (entities) =>
          new Map(
            entities
              .filter((e) => e.Data?.[APPLICATIONS])
              .map((e) => [e.Id as string, (e.Data[APPLICATIONS].Content ?? []).length]),
          ),
      ),
    [tick],
  );
  const types = useSection<InventoryType[]>(
    () => callAll("ssm", "GetInventorySchema", { MaxResults: 200 }, "Schemas"),
    [tick],
  );

  const show = (id: string, type: string) => {
    setNode(id);
    setTypeName(type);
  };

  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description="What the nodes report about themselves: platform, applications, network, services, files and custom types."
        actions={<Button iconName="refresh" ariaLabel="Refresh" onClick={() => setTick((t) => t + 1)} />}
      >
        Inventory
      </Header>
      <Overview nodes={nodes.data} applications={applications.data} types={types.data} />
      <Section
        title="Nodes with inventory"
        counter={nodes.data && `(${nodes.data.length})`}
        description={applications.error && `Applications cannot be counted: ${applications.error}`}
        error={nodes.error}
      >
        <NodeTable nodes={nodes.data} applications={applications.data} onShowApplications={(id) => show(id, APPLICATIONS)} />
      </Section>
      <Section title="Inventory types" counter={types.data && `(${types.data.length})`} error={types.error}>
        <TypeTable types={types.data} onShow={(type) => show(node, type)} />
      </Section>
      <Entries
        nodes={nodes.data ?? []}
        types={types.data}
        node={node}
        typeName={typeName}
        tick={tick}
        onNode={setNode}
        onType={setTypeName}
      />
    </SpaceBetween>
  );
}

/** The fleet at a glance, from what the sections read (no call of its own). */
function Overview({
  nodes,
  applications,
  types,
}: {
  nodes?: InventoryNode[];
  applications?: Map<string, number>;
  types?: InventoryType[];
}) {
  const total = applications && [...applications.values()].reduce((sum, n) => sum + n, 0);
  return (
    <Container>
      <ColumnLayout columns={4} variant="text-grid">
        <Field label="Nodes reporting">{nodes && String(nodes.length)}</Field>
        <Field label="Platforms">{nodes && platformCounts(nodes)}</Field>
        <Field label="Applications (all nodes)">{total !== undefined && String(total)}</Field>
        <Field label="Inventory types">{types && String(types.length)}</Field>
      </ColumnLayout>
    </Container>
  );
}

function NodeTable({
  nodes,
  applications,
  onShowApplications,
}: {
  nodes?: InventoryNode[];
  applications?: Map<string, number>;
  onShowApplications: (id: string) => void;
}) {
  return (
    <Table
      variant="embedded"
      items={nodes ?? []}
      loading={!nodes}
      loadingText="Reading inventory"
      trackBy="id"
      empty="No node has sent inventory yet: associate AWS-GatherSoftwareInventory with them."
      columnDefinitions={[
        {
          id: "node",
          header: "Node",
          isRowHeader: true,
          cell: (n) => <Link href={`#/fleet/${encodeURIComponent(n.id)}`}>{n.id}</Link>,
        },
        { id: "name", header: "Computer name", cell: (n) => n.info.ComputerName || "-" },
        { id: "platform", header: "Platform", cell: (n) => platformText(n.info) },
        { id: "agent", header: "Agent", cell: (n) => [n.info.AgentType, n.info.AgentVersion].filter(Boolean).join(" ") || "-" },
        { id: "ip", header: "IP address", cell: (n) => n.info.IpAddress || "-" },
        {
          id: "applications",
          header: "Applications",
          cell: (n) => {
            const count = applications?.get(n.id);
            if (count === undefined) return "-";
            return (
              <Button variant="inline-link" ariaLabel={`Show the applications of ${n.id}`} onClick={() => onShowApplications(n.id)}>
                {String(count)}
              </Button>
            );
          },
        },
        { id: "captured", header: "Captured", cell: (n) => when(n.captured) },
      ]}
    />
  );
}

function TypeTable({ types, onShow }: { types?: InventoryType[]; onShow: (type: string) => void }) {
  return (
    <Table
      variant="embedded"
      items={types ?? []}
      loading={!types}
      loadingText="Reading inventory types"
      trackBy="TypeName"
      empty="No inventory types."
      columnDefinitions={[
        {
          id: "type",
          header: "Type",
          isRowHeader: true,
          minWidth: 260, // type names such as AWS:InstanceDetailedInformation stay on one line
          cell: (t) => (
            <Button variant="inline-link" ariaLabel={`Show entries of ${t.TypeName}`} onClick={() => onShow(t.TypeName)}>
              {t.TypeName}
            </Button>
          ),
        },
        { id: "display", header: "Display name", cell: (t) => t.DisplayName || "-" },
        { id: "version", header: "Version", cell: (t) => t.Version || "-" },
        {
          id: "attributes",
          header: "Attributes",
          cell: (t) => <Box variant="small">{t.Attributes.map((a) => a.Name).join(", ")}</Box>,
        },
      ]}
    />
  );
}

/** The columns of a page of entries: the type's attributes in its schema's order (those the
 * page fills), else whatever the entries hold — a custom type without a readable schema. */
function entryColumns(entries: Record<string, string>[], type?: InventoryType): string[] {
  const present = new Set(entries.flatMap((e) => Object.keys(e)));
  if (!type) return [...present];
  const known = type.Attributes.map((a) => a.Name);
  return [...known.filter((a) => present.has(a)), ...[...present].filter((a) => !known.includes(a))];
}

/** A page of ListInventoryEntries. */
interface EntriesPage {
  entries: Record<string, string>[];
  captured?: string;
  next?: string;
}

/** One node's entries of one type, a page of 50 at a time. */
function Entries({
  nodes,
  types,
  node,
  typeName,
  tick,
  onNode,
  onType,
}: {
  nodes: InventoryNode[];
  types?: InventoryType[];
  node: string;
  typeName: string;
  tick: number;
  onNode: (id: string) => void;
  onType: (type: string) => void;
}) {
  const pages = useTokenPages<EntriesPage>(
    (token) =>
      node
        ? call("ssm", "ListInventoryEntries", {
            InstanceId: node,
            TypeName: typeName,
            MaxResults: 50,
            ...(token ? { NextToken: token } : {}),
          }).then((r) => ({ entries: r.Entries ?? [], captured: r.CaptureTime, next: r.NextToken }))
        : Promise.resolve({ entries: [] }),
    [node, typeName, tick],
  );
  const entries = pages.page?.entries;
  const type = types?.find((t) => t.TypeName === typeName);
  const columns = useMemo(() => entryColumns(entries ?? [], type), [entries, type]);
  const nodeOptions: SelectProps.Option[] = nodes.map((n) => ({
    label: n.id,
    value: n.id,
    description: [n.info.ComputerName, platformText(n.info)].filter(Boolean).join(" · "),
  }));
  // Without the schemas (refused), the type chosen is still offered, so entries can be read.
  const typeOptions: SelectProps.Option[] = (types ?? [{ TypeName: typeName, Attributes: [] }]).map((t) => ({
    label: t.TypeName,
    value: t.TypeName,
    description: t.DisplayName,
  }));
  const captured = pages.page?.captured;

  return (
    <Table
      variant="container"
      header={
        <Header
          variant="h2"
          counter={node && entries ? `(${entries.length})` : undefined}
          description={!node ? "Choose a node and an inventory type." : captured ? `Captured ${when(captured)}` : undefined}
        >
          Entries
        </Header>
      }
      items={node ? (entries ?? []) : []}
      loading={!!node && pages.loading}
      loadingText="Reading entries"
      empty={
        pages.error ? (
          <Alert type="warning">{pages.error}</Alert>
        ) : node ? (
          `${node} has no ${typeName} entries.`
        ) : (
          "No node chosen."
        )
      }
      filter={
        <SpaceBetween direction="horizontal" size="s">
          <FormField label="Inventory type">
            <Select
              selectedOption={{ label: typeName, value: typeName }}
              options={typeOptions}
              filteringType="auto"
              onChange={({ detail }) => onType(detail.selectedOption.value ?? typeName)}
            />
          </FormField>
          <FormField label="Node">
            <Select
              selectedOption={node ? { label: node, value: node } : null}
              options={nodeOptions}
              filteringType="auto"
              placeholder="Choose a node"
              empty="No node has sent inventory."
              onChange={({ detail }) => onNode(detail.selectedOption.value ?? "")}
            />
          </FormField>
        </SpaceBetween>
      }
      pagination={node && <TokenPager pages={pages} label={`Pages of ${typeName} entries`} />}
      columnDefinitions={
        columns.length > 0
          ? columns.map((c, i) => ({ id: c, header: c, isRowHeader: i === 0, cell: (e: Record<string, string>) => e[c] || "-" }))
          : [{ id: "none", header: typeName, cell: () => "-" }]
      }
    />
  );
}
