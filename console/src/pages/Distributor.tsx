import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import { MultiselectProps } from "@cloudscape-design/components/multiselect";
import RadioGroup from "@cloudscape-design/components/radio-group";
import Select, { SelectProps } from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { call, callAll, why } from "../api";
import { go } from "../route";
import { NodePicker, OwnerFilter } from "./pickers";

/** Distributor: the packages the account owns or that are shared with it. */
export default function Distributor({ region }: { region: string }) {
  const [owner, setOwner] = useState("Self");
  const [packages, setPackages] = useState<any[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");

  useEffect(() => {
    setLoading(true);
    setError("");
    const filters = [
      { Key: "DocumentType", Values: ["Package"] },
      { Key: "Owner", Values: [owner] },
    ];
    callAll("ssm", "ListDocuments", { Filters: filters, MaxResults: 50 }, "DocumentIdentifiers", 1000)
      .then(setPackages)
      .catch((e) => setError(why(e)))
      .finally(() => setLoading(false));
  }, [owner]);

  return (
    <SpaceBetween size="l">
      {error && <Alert type="error">{error}</Alert>}
      <Table
        variant="full-page"
        loading={loading}
        loadingText="Reading packages"
        items={packages}
        header={
          <Header variant="awsui-h1-sticky" counter={`(${packages.length})`}
            description="Publish a version from folders with: steward package create --name NAME --version V --platform ubuntu/_any/x86_64=DIR">
            Distributor
          </Header>
        }
        filter={<OwnerFilter owner={owner} onChange={setOwner} />}
        empty="No packages."
        columnDefinitions={[
          {
            id: "name",
            header: "Package",
            isRowHeader: true,
            cell: (d) => (
              <Link href={`#/distributor/${encodeURIComponent(owner === "Self" ? d.Name : arnOf(d, region))}`}>
                {d.Name}
              </Link>
            ),
          },
          { id: "version", header: "Default version", cell: (d) => d.VersionName ?? d.DocumentVersion ?? "-" },
          { id: "owner", header: "Owner", cell: (d) => d.Owner },
        ]}
      />
    </SpaceBetween>
  );
}

/** A shared package is named by its ARN, as SSM names documents of other accounts. */
function arnOf(d: any, region: string): string {
  return `arn:aws:ssm:${region}:${d.Owner}:document/${d.Name}`;
}

function size(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KB`;
  return `${bytes} B`;
}

/** One package: its versions and files, and a form that installs or removes it on nodes. */
export function PackageDetail({ name }: { name: string }) {
  const [description, setDescription] = useState<any>(null);
  const [versions, setVersions] = useState<any[]>([]);
  const [files, setFiles] = useState<any[]>([]);
  const [chosen, setChosen] = useState<readonly MultiselectProps.Option[]>([]);
  const [action, setAction] = useState("Install");
  const [version, setVersion] = useState<SelectProps.Option>({ label: "Default version", value: "" });
  const [how, setHow] = useState("Uninstall and reinstall");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    setError("");
    call("ssm", "DescribeDocument", { Name: name })
      .then((d) => setDescription(d.Document))
      .catch((e) => setError(why(e)));
    callAll("ssm", "ListDocumentVersions", { Name: name, MaxResults: 50 }, "DocumentVersions", 1000)
      .then(setVersions)
      .catch((e) => setError(why(e)));
    call("ssm", "GetDocument", { Name: name })
      .then((d) => setFiles(d.AttachmentsContent ?? []))
      .catch((e) => setError(why(e)));
  }, [name]);

  const run = async () => {
    setBusy(true);
    setError("");
    try {
      const parameters: Record<string, string[]> = { action: [action], name: [name] };
      if (version.value) parameters.version = [version.value];
      if (action === "Install") parameters.installationType = [how];
      const sent = await call("ssm", "SendCommand", {
        DocumentName: "AWS-ConfigureAWSPackage",
        InstanceIds: chosen.map((o) => o.value),
        Parameters: parameters,
        Comment: `${action} ${name} from the Steward console`,
      });
      go(`/commands/${sent.Command.CommandId}`);
    } catch (e) {
      setError(why(e));
    } finally {
      setBusy(false);
    }
  };

  const versionOptions: SelectProps.Option[] = [
    { label: "Default version", value: "" },
    ...versions
      .filter((v) => v.VersionName)
      .map((v) => ({ label: v.VersionName, value: v.VersionName, description: `document version ${v.DocumentVersion}` })),
  ];
  const shortName = name.split("/").pop() ?? name;

  return (
    <SpaceBetween size="l">
      <Header variant="h1" description={description ? `Owner ${description.Owner}` : undefined}>
        {shortName}
      </Header>
      {error && <Alert type="error">{error}</Alert>}
      <Container header={<Header variant="h2">Package</Header>}>
        <ColumnLayout columns={3} variant="text-grid">
          <div>
            <Box variant="awsui-key-label">Default version</Box>
            <div>{description?.VersionName ?? "-"}</div>
          </div>
          <div>
            <Box variant="awsui-key-label">Versions</Box>
            <div>{versions.map((v) => v.VersionName ?? v.DocumentVersion).join(", ") || "-"}</div>
          </div>
          <div>
            <Box variant="awsui-key-label">Files</Box>
            <div>{(description?.AttachmentsInformation ?? []).length}</div>
          </div>
        </ColumnLayout>
      </Container>
      <Table
        header={<Header variant="h2">Files of the default version</Header>}
        items={files}
        empty="No files."
        columnDefinitions={[
          { id: "name", header: "Name", isRowHeader: true, cell: (f) => f.Name },
          { id: "size", header: "Size", cell: (f) => size(f.Size) },
          { id: "hash", header: "SHA-256", cell: (f) => <code>{f.Hash}</code> },
        ]}
      />
      <form
        onSubmit={(e) => {
          e.preventDefault();
          run();
        }}
      >
        <Form
          header={<Header variant="h2">Install or uninstall</Header>}
          actions={
            <Button variant="primary" loading={busy} disabled={chosen.length === 0}>
              {action === "Install" ? "Install" : "Uninstall"}
            </Button>
          }
        >
          <Container>
            <SpaceBetween size="m">
              <RadioGroup
                value={action}
                onChange={({ detail }) => setAction(detail.value)}
                items={[
                  { value: "Install", label: "Install" },
                  { value: "Uninstall", label: "Uninstall" },
                ]}
              />
              {action === "Install" && (
                <SpaceBetween direction="horizontal" size="s">
                  <FormField label="Version">
                    <Select selectedOption={version} options={versionOptions} onChange={({ detail }) => setVersion(detail.selectedOption)} />
                  </FormField>
                  <FormField label="Installation type">
                    <Select
                      selectedOption={{ label: how, value: how }}
                      options={[
                        { label: "Uninstall and reinstall", value: "Uninstall and reinstall" },
                        { label: "In-place update", value: "In-place update" },
                      ]}
                      onChange={({ detail }) => setHow(detail.selectedOption.value ?? "Uninstall and reinstall")}
                    />
                  </FormField>
                </SpaceBetween>
              )}
              <FormField label="Nodes">
                <NodePicker selected={chosen} onChange={setChosen} onError={setError} />
              </FormField>
            </SpaceBetween>
          </Container>
        </Form>
      </form>
    </SpaceBetween>
  );
}
