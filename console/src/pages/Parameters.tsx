import { useEffect, useMemo, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import BreadcrumbGroup from "@cloudscape-design/components/breadcrumb-group";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import TextFilter from "@cloudscape-design/components/text-filter";
import { callAll, when, why } from "../api";

interface Parameter {
  Name: string;
  Type: string;
  Version: number;
  LastModifiedDate?: number;
  Tier?: string;
}

/** The folders and parameters directly under `path` ("/" is the top). */
function under(all: Parameter[], path: string) {
  const folders = new Set<string>();
  const here: Parameter[] = [];
  for (const p of all) {
    const name = p.Name.startsWith("/") ? p.Name : "/" + p.Name;
    if (!name.startsWith(path)) continue;
    const rest = name.slice(path.length);
    const slash = rest.indexOf("/");
    if (slash > 0) folders.add(path + rest.slice(0, slash + 1));
    else here.push(p);
  }
  return { folders: [...folders].sort(), here };
}

export default function Parameters() {
  const [all, setAll] = useState<Parameter[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [path, setPath] = useState("/");
  const [filter, setFilter] = useState("");

  useEffect(() => {
    callAll<Parameter>("ssm", "DescribeParameters", { MaxResults: 50 }, "Parameters")
      .then(setAll)
      .catch((e) => setError(why(e)))
      .finally(() => setLoading(false));
  }, []);

  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    if (f) return all.filter((p) => p.Name.toLowerCase().includes(f)).map((p) => ({ kind: "parameter", p }));
    const { folders, here } = under(all, path);
    return [
      ...folders.map((folder) => ({ kind: "folder", folder })),
      ...here.map((p) => ({ kind: "parameter", p })),
    ] as any[];
  }, [all, path, filter]);

  const crumbs = path
    .split("/")
    .filter(Boolean)
    .reduce((acc: { text: string; href: string }[], part) => {
      const prev = acc.length ? acc[acc.length - 1].href : "/";
      return [...acc, { text: part, href: prev + part + "/" }];
    }, []);

  return (
    <SpaceBetween size="l">
      {error && (
        <Alert type="error" header="Cannot list parameters">
          {error}
        </Alert>
      )}
      <Table
        variant="full-page"
        loading={loading}
        loadingText="Reading parameters"
        items={rows}
        header={
          <Header variant="awsui-h1-sticky" counter={`(${all.length})`} description="Parameters by path.">
            Parameter Store
          </Header>
        }
        filter={
          <SpaceBetween size="s">
            <BreadcrumbGroup
              ariaLabel="Path"
              items={[{ text: "/", href: "/" }, ...crumbs]}
              onFollow={(e) => {
                e.preventDefault();
                setPath(e.detail.href);
              }}
            />
            <TextFilter
              filteringText={filter}
              filteringPlaceholder="Find parameters by name"
              filteringAriaLabel="Find parameters"
              onChange={({ detail }) => setFilter(detail.filteringText)}
            />
          </SpaceBetween>
        }
        empty="No parameters here."
        columnDefinitions={[
          {
            id: "name",
            header: "Name",
            isRowHeader: true,
            cell: (row) =>
              row.kind === "folder" ? (
                <Link onFollow={() => setPath(row.folder)}>{row.folder.slice(path.length)}</Link>
              ) : (
                <Link href={`#/parameters/${encodeURIComponent(row.p.Name)}`}>{row.p.Name}</Link>
              ),
          },
          { id: "type", header: "Type", cell: (row) => (row.kind === "folder" ? "Path" : row.p.Type) },
          { id: "version", header: "Version", cell: (row) => (row.kind === "folder" ? "" : row.p.Version) },
          {
            id: "modified",
            header: "Last modified",
            cell: (row) => (row.kind === "folder" ? "" : when(row.p.LastModifiedDate)),
          },
        ]}
      />
    </SpaceBetween>
  );
}
